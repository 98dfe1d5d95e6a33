"""POST /v1/sentiment and GET /v1/models with the real shipped model."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth

LONG_EMAIL = (
    "Hello team,\n\n"
    # Neutral filler: logistics without friction (a roll-out would be positive under the
    # B2B guideline: adoption and expansion are good news for the account).
    + "We moved the weekly sync from Tuesday to Thursday last month. " * 12
    + "The import of historic tickets took longer than planned. "
    + "Honestly the constant sync failures are unacceptable and cost us a client. "
    + "Please escalate this.\n\nBest regards,\nDana\n\n"
    + "On Tue, Jul 14, 2026 at 9:02 AM Support <support@lumenly.example> wrote:\n"
    + "> We are delighted you love the product!\n"
)


def test_scores_texts_with_calibrated_probabilities(
    client: TestClient, keys: dict[Role, str]
) -> None:
    texts = [
        "I love the new dashboards, great work!",
        "This is the worst support ever.",
        "Please update our billing address.",
    ]
    response = client.post("/v1/sentiment", json={"texts": texts}, headers=auth(keys[Role.VIEWER]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["label"] for r in body["results"]] == ["positive", "negative", "neutral"]
    for result in body["results"]:
        assert abs(sum(result["probabilities"].values()) - 1) < 1e-6
        expected = result["probabilities"]["positive"] - result["probabilities"]["negative"]
        assert abs(result["score"] - expected) < 1e-6
        assert result["sentences"]
    assert body["model_version"].startswith("minilm-sent-")


def test_long_email_is_cleaned_split_and_aggregated(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = client.post(
        "/v1/sentiment", json={"texts": [LONG_EMAIL]}, headers=auth(keys[Role.VIEWER])
    ).json()
    result = body["results"][0]
    assert result["aggregation"] == "sentence_weighted"
    assert result["removed"] == ["quoted_reply", "signature", "greeting"]
    assert "delighted" not in result["cleaned_text"]
    most_negative = min(result["sentences"], key=lambda s: s["score"])
    assert "unacceptable" in most_negative["text"]
    assert result["label"] == "negative"


def test_explain_false_omits_sentences(client: TestClient, keys: dict[Role, str]) -> None:
    body = client.post(
        "/v1/sentiment", json={"texts": ["ok"], "explain": False}, headers=auth(keys[Role.ANALYST])
    ).json()
    assert body["results"][0]["sentences"] is None


def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient, keys: dict[Role, str], settings: Settings
) -> None:
    headers = auth(keys[Role.VIEWER])
    empty = client.post("/v1/sentiment", json={"texts": ["fine", "  "]}, headers=headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "texts[1]"
    none = client.post("/v1/sentiment", json={"texts": []}, headers=headers)
    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "texts"
    many = client.post("/v1/sentiment", json={"texts": ["a"] * 65}, headers=headers)
    assert many.status_code == 413
    long = client.post("/v1/sentiment", json={"texts": ["a" * 20_001]}, headers=headers)
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "texts[0]"


def test_models_lists_versions_checksums_and_card_metrics(
    client: TestClient, keys: dict[Role, str]
) -> None:
    models = client.get("/v1/models", headers=auth(keys[Role.VIEWER])).json()
    by_name = {model["name"]: model for model in models}
    assert by_name["minilm"]["default"] is True
    assert all(len(digest) == 64 for digest in by_name["minilm"]["checksums"].values())
    assert by_name["minilm"]["metrics"]
    assert by_name["sentence-splitter"]["version"].endswith("3.8.0")


def test_a_broken_model_gives_503_and_not_ready(
    settings: Settings, database: Database, keys: dict[Role, str], tmp_path: Path
) -> None:
    broken = ModelHub(artifact_dir=tmp_path / "missing")
    preload = settings.model_copy(update={"preload_models": True})
    with TestClient(create_app(preload, database, broken)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["models"].startswith("failed")
        scored = client.post(
            "/v1/sentiment", json={"texts": ["hi"]}, headers=auth(keys[Role.VIEWER])
        )
        assert scored.status_code == 503
        assert "could not be loaded" in scored.json()["detail"]
