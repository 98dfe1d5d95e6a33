"""Hostile and odd texts on the NLP path: each gets a result (or, over HTTP, a clear 4xx)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sentiment_service.model_hub import ModelHub
from sentiment_service.vocabulary import Role
from tests.conftest import auth

ODD_TEXTS = {
    "whitespace_only_lines": "\n\n   \n\t",
    "emoji_only": "😡😡😡🔥🙏",
    "mixed_scripts": "Сервис не работает! サービスが遅い。 الخدمة بطيئة The service is slow.",
    "control_characters": "broken\x00export\x07again\x1b[31m red \x7f",
    "html": "<p>The <b>export</b> is <script>alert(1)</script> broken &amp; slow</p>",
    "markdown": "# Bug\n* export fails\n* `retry` fails\n> quoted\n```\ncode\n```",
    "long_url": "see https://example.org/" + "a" * 5000 + " it is down",
    "max_length_text": ("The dashboard is slow again. " * 700)[:20_000],
    "one_long_word": "x" * 20_000,
    "only_punctuation": "?!?!... ,,, ;;;",
}


@pytest.mark.parametrize("name", sorted(ODD_TEXTS))
def test_the_message_path_returns_a_distribution(model_hub: ModelHub, name: str) -> None:
    result = model_hub.scorer().score([ODD_TEXTS[name]])[0]
    assert result.label in ("negative", "neutral", "positive")
    assert np.isclose(sum(result.probabilities.values()), 1.0)
    assert -1.0 <= result.score <= 1.0


def test_http_gives_results_or_clear_4xx(client: TestClient, keys: dict[Role, str]) -> None:
    headers = auth(keys[Role.VIEWER])
    texts = [text for name, text in ODD_TEXTS.items() if name != "whitespace_only_lines"]
    scored = client.post("/v1/sentiment", json={"texts": texts}, headers=headers)
    assert scored.status_code == 200, scored.text
    assert len(scored.json()["results"]) == len(texts)
    huge = client.post("/v1/sentiment", json={"texts": ["a" * 1_000_000]}, headers=headers)
    assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "texts[0]"
    for blank in ("", ODD_TEXTS["whitespace_only_lines"]):
        response = client.post("/v1/sentiment", json={"texts": [blank]}, headers=headers)
        assert response.status_code == 422 and "empty" in response.json()["detail"]
