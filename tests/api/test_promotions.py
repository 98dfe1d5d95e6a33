"""Model promotion: a candidate replaces the default only if it is not worse anywhere."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AuditLogEntry
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import candidate_artifact

ROWS = [
    ("I love this product, it is wonderful", "positive", "chat"),
    ("Terrible service, I hate waiting", "negative", "ticket"),
    ("The invoice arrived today", "neutral", "ticket"),
    ("Great support, thanks a lot!", "positive", "survey"),
    ("Awful, broken again", "negative", "chat"),
    ("We moved the meeting to Tuesday", "neutral", "survey"),
]


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """An app with its own models: a promotion swaps them, the shared ones stay as they are."""
    with TestClient(create_app(settings, database, ModelHub())) as test_client:
        yield test_client


def _upload(client: TestClient, headers: dict[str, str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([("text", "label", "source"), *ROWS])
    response = client.post(
        "/v1/evaluations",
        files={"file": ("s.csv", buffer.getvalue())},
        data={"model": ["vader"], "name": "gold"},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def test_promotion_needs_stored_evidence(
    client: TestClient, keys: dict[Role, str], tmp_path: Path
) -> None:
    response = client.post(
        "/v1/models/promotions",
        json={"artifact_dir": str(candidate_artifact(tmp_path, "minilm-sent-x.1"))},
        headers=auth(keys[Role.ADMIN]),
    )
    assert response.status_code == 422
    assert "no labelled sets" in response.json()["detail"]


def test_a_worse_candidate_is_refused_and_an_equal_one_promoted(
    client: TestClient, keys: dict[Role, str], tmp_path: Path, database: Database
) -> None:
    admin = auth(keys[Role.ADMIN])
    _upload(client, auth(keys[Role.ANALYST]))
    current = client.get("/v1/models", headers=admin).json()[0]["version"]

    worse = candidate_artifact(tmp_path, "minilm-sent-worse.1", ["positive", "neutral", "negative"])
    refused = client.post(
        "/v1/models/promotions", json={"artifact_dir": str(worse)}, headers=admin
    ).json()
    assert refused["promoted"] is False
    failed = {(c["scope"], c["key"]) for c in refused["comparison"]["checks"] if not c["ok"]}
    assert ("overall", "macro_f1") in failed and ("class", "negative") in failed
    assert client.get("/v1/models", headers=admin).json()[0]["version"] == current

    same = candidate_artifact(tmp_path, "minilm-sent-same.2")
    promoted = client.post(
        "/v1/models/promotions", json={"artifact_dir": str(same)}, headers=admin
    ).json()
    assert promoted["promoted"] is True and promoted["current_version"] == current
    assert client.get("/v1/models", headers=admin).json()[0]["version"] == "minilm-sent-same.2"
    history = client.get("/v1/models/promotions", headers=auth(keys[Role.ANALYST])).json()
    assert [h["promoted"] for h in history] == [True, False]
    with database.session() as session:
        actions = session.exec(
            select(AuditLogEntry.action).where(AuditLogEntry.entity_type == "model")
        ).all()
    assert actions == ["model.promotion_refused", "model.promote"]


def test_a_missing_candidate_is_a_clear_4xx(
    client: TestClient, keys: dict[Role, str], tmp_path: Path
) -> None:
    _upload(client, auth(keys[Role.ANALYST]))
    response = client.post(
        "/v1/models/promotions",
        json={"artifact_dir": str(tmp_path / "nothing")},
        headers=auth(keys[Role.ADMIN]),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "artifact_dir"
