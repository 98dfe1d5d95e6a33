"""Hostile text on the NLP message path, with the real models: the scorer, POST /v1/sentiment
and ingestion followed by a worker drain. Each text gets a result or a clear 4xx, never a
crash, and the worker scores a batch holding all of them within a time bound.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from models.backends import LABELS
from models.message_sentiment import MAX_SCORED_CHARS, MessageSentiment
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker, queue_length
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import MessageScore
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import message

CONTROL = "".join(chr(code) for code in range(32))
HOSTILE: dict[str, str] = {
    "empty": "",
    "whitespace": " \t\n\r\u00a0\u3000\u2028",
    "one_megabyte": ("The export fails again. " * 45_000)[:1_000_000],
    "emoji_only": "😡🔥🙏👍🏽👨‍👩‍👧🇧🇷",
    "mixed_scripts": "الخدمة بطيئة جدا 服务太慢了 the service is slow again",
    "control_characters": f"{CONTROL}export\u200bbroken\u200e\u200f\u202e\u2066text\u2069",
    "html": '<div onclick="x()"><script>alert(1)</script>The <b>export</b> &amp; sync</div>',
    "markdown": "# Bug\n* export **fails**\n> quoted\n```\nrm -rf /\n```\n[link](javascript:x)",
    "url_100k": "see https://example.com/" + "segment/" * 12_500 + "?q=1 it is down",
    "lone_surrogates": "half an emoji \ud83d and a stray \udc00 low half",
}
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
OVER_HTTP: dict[str, int] = {  # what POST /v1/sentiment answers, by name (default limits)
    "empty": 422,
    "whitespace": 422,
    "one_megabyte": 422,
    "url_100k": 422,
    "lone_surrogates": 400,
}


def _assert_sane(result: MessageSentiment) -> None:
    """A label, a probability distribution, a score in [-1, 1] and storable text."""
    assert result.label in LABELS
    assert all(math.isfinite(p) and 0 <= p <= 1 for p in result.probabilities.values())
    assert math.isclose(sum(result.probabilities.values()), 1.0, abs_tol=1e-6)
    assert -1.0 <= result.score <= 1.0
    result.cleaned_text.encode("utf-8")  # no lone surrogate left
    assert len(result.cleaned_text) <= MAX_SCORED_CHARS
    for sentence in result.sentences:
        assert 0 <= sentence.start <= sentence.end <= len(result.cleaned_text)
        assert result.cleaned_text[sentence.start : sentence.end] == sentence.text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_scorer_gives_every_hostile_text_a_result(model_hub: ModelHub, name: str) -> None:
    started = time.perf_counter()
    result = model_hub.scorer().score([HOSTILE[name]])[0]
    _assert_sane(result)
    assert time.perf_counter() - started < 60
    if name == "one_megabyte":
        assert "truncated" in result.removed


@pytest.mark.timeout(300)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.text(alphabet=st.one_of(st.characters(), SURROGATES), max_size=400),
        min_size=1,
        max_size=6,
    )
)
def test_the_scorer_survives_any_unicode(model_hub: ModelHub, texts: list[str]) -> None:
    results = model_hub.scorer().score(texts)
    assert len(results) == len(texts)
    for result in results:
        _assert_sane(result)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_http_gives_a_result_or_a_clear_4xx(
    client: TestClient, keys: dict[Role, str], name: str
) -> None:
    response = client.post(
        "/v1/sentiment",
        content=json.dumps({"texts": [HOSTILE[name]]}).encode(),
        headers={**auth(keys[Role.VIEWER]), "content-type": "application/json"},
    )
    expected = OVER_HTTP.get(name, 200)
    assert response.status_code == expected, response.text[:300]
    if expected == 200:
        result = response.json()["results"][0]
        assert result["label"] in LABELS and -1 <= result["score"] <= 1
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] in ("texts[0]", "body")


@pytest.mark.timeout(120)
def test_ingestion_over_http_accepts_or_rejects_each_hostile_text(
    client: TestClient, keys: dict[Role, str]
) -> None:
    client.put("/v1/accounts/acme", json={"name": "Acme"}, headers=auth(keys[Role.ADMIN]))
    names = [name for name in sorted(HOSTILE) if name != "lone_surrogates"]  # a 400, see above
    records = [message(name, text=HOSTILE[name]) for name in names]
    response = client.post(
        "/v1/messages", json={"messages": records}, headers=auth(keys[Role.INGEST])
    )
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    rejected = {names[item["index"]]: item for item in body["rejected"]}
    assert {name: item["code"] for name, item in rejected.items()} == {
        "empty": "empty_text",
        "whitespace": "empty_text",
        "one_megabyte": "text_too_long",
        "url_100k": "text_too_long",
    }
    assert all(item["field"] == "text" for item in rejected.values())
    assert body["counts"]["accepted"] == len(names) - len(rejected)


@pytest.mark.timeout(180)
def test_the_worker_scores_a_batch_of_every_hostile_text_in_bounded_time(
    database: Database, model_hub: ModelHub
) -> None:
    """With the text limit raised (a connector, or an operator's setting), even the megabyte
    and the 100 kB URL are stored; the worker still scores the whole batch quickly."""
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="fuzz")
    records: list[dict[str, Any]] = [
        message(name, text=text + " (fuzz)") for name, text in sorted(HOSTILE.items())
    ]
    policy = IngestPolicy(max_text_chars=2_000_000)
    with database.session() as session:
        result = Ingestor(session, policy, channel="fuzz", actor="fuzz").messages(records)
    # Each hostile text is stored (with " (fuzz)" added). "empty" and "whitespace" are then the
    # same text, but two distinct records: both are stored (issue 17).
    assert [item.status for item in result.items].count("accepted") == len(HOSTILE)
    stored = {item.id for item in result.items if item.id is not None}
    worker = ScoringWorker(database, model_hub.scorer(), worker_id="fuzz", batch_size=64)
    started = time.perf_counter()
    worker.drain()
    assert time.perf_counter() - started < 90
    assert queue_length(database) == 0
    with database.session() as session:
        scores = session.exec(
            select(MessageScore).where(col(MessageScore.message_id).in_(stored))
        ).all()
    assert len(scores) == len(stored)
    for score in scores:
        assert score.status in ("scored", "skipped_language", "skipped_empty")
        if score.status == "scored":
            assert score.label in LABELS and score.score is not None
            assert -1 <= score.score <= 1
