"""Health API: scorecards, account health with evidence, overrides, backtests, features."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth


def test_account_health_is_explained_with_evidence(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    body = client.get("/v1/accounts/sad-1/health", headers=auth(keys[Role.VIEWER])).json()
    churn = next(s for s in body["scores"] if s["scorecard"] == "churn_risk")
    assert churn["band"] in {"at_risk", "neutral"} and churn["source"] == "computed"
    assert 0 < churn["confidence"] <= 1 and churn["peer_percentile"] is not None
    assert sum(c["contribution"] for c in churn["components"]) == pytest.approx(
        churn["score"], abs=0.05
    )
    quoted = [c for c in churn["components"] if c.get("evidence_messages")]
    assert quoted, "sentiment components quote their messages"
    assert any("Quorvo" in q["quote"] for c in quoted for q in c["evidence_messages"])
    history = client.get(
        "/v1/accounts/sad-1/health/history", headers=auth(keys[Role.VIEWER])
    ).json()
    assert [p["as_of"] for p in history["points"]] == ["2026-10-11", "2026-10-31"]
    missing = client.get("/v1/accounts/nobody/health", headers=auth(keys[Role.VIEWER]))
    assert missing.status_code == 404


def test_override_lifecycle_is_audited(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    admin = auth(keys[Role.ADMIN])
    expires = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    bad = client.post(
        "/v1/accounts/sad-1/overrides",
        json={
            "scorecard": "churn_risk",
            "band": "great",
            "reason": "signed",
            "expires_at": expires,
        },
        headers=admin,
    )
    assert bad.status_code == 422 and "band" in bad.text
    past = client.post(
        "/v1/accounts/sad-1/overrides",
        json={
            "scorecard": "churn_risk",
            "band": "healthy",
            "reason": "x" * 5,
            "expires_at": "2020-01-01T00:00:00Z",
        },
        headers=admin,
    )
    assert past.status_code == 422 and "expires_at" in past.text
    created = client.post(
        "/v1/accounts/sad-1/overrides",
        json={
            "scorecard": "churn_risk",
            "band": "healthy",
            "reason": "3-year renewal signed",
            "expires_at": expires,
        },
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["active"]
    viewer = auth(keys[Role.VIEWER])
    churn = next(
        s
        for s in client.get("/v1/accounts/sad-1/health", headers=viewer).json()["scores"]
        if s["scorecard"] == "churn_risk"
    )
    assert churn["band"] == "healthy" and churn["source"] == "override"
    assert churn["computed_band"] != "healthy" and churn["override"]["reason"]
    removed = client.delete(
        f"/v1/accounts/sad-1/overrides/{created.json()['id']}", headers=admin
    ).json()
    assert not removed["active"] and removed["removed_by"]
    listed = client.get("/v1/accounts/sad-1/overrides", headers=viewer).json()
    assert len(listed) == 1 and listed[0]["removed_at"]
    with scored.session() as session:
        from sqlmodel import select

        from sentiment_service.storage.tables import AuditLogEntry

        actions = [e.action for e in session.exec(select(AuditLogEntry)).all()]
    assert "health.override" in actions and "health.override_remove" in actions


def _card(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    return client.get("/v1/scorecards/churn_risk", headers=headers).json()["scorecard"]


def test_scorecard_versions_preview_and_criteria(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    admin, analyst = auth(keys[Role.ADMIN]), auth(keys[Role.ANALYST])
    card = _card(client, admin)
    card["components"][0]["weight"] = 10
    preview = client.post(
        "/v1/scorecards/churn_risk/preview", json={"scorecard": card}, headers=analyst
    ).json()
    assert preview["accounts"] == 5 and "changes" in preview
    invalid = dict(card, bands=[{"name": "a", "min_score": 10}, {"name": "b", "min_score": 50}])
    refused = client.put(
        "/v1/scorecards/churn_risk", json={"scorecard": invalid, "reason": "try"}, headers=admin
    )
    assert refused.status_code == 422 and "bands" in refused.text
    saved = client.put(
        "/v1/scorecards/churn_risk",
        json={"scorecard": card, "reason": "sentiment level matters more"},
        headers=admin,
    ).json()
    assert saved["version"] == 2
    log = client.get("/v1/scorecards/churn_risk/versions", headers=analyst).json()
    assert [v["version"] for v in log] == [2, 1]
    assert log[0]["diff"] == [
        {"path": "components[sentiment_level].weight", "old": 3.0, "new": 10.0}
    ]
    old = client.get("/v1/scorecards/churn_risk?version=1", headers=analyst).json()
    assert old["scorecard"]["components"][0]["weight"] == 3.0
    criteria = client.get("/v1/scorecards/churn_risk/criteria", headers=analyst).json()
    assert criteria["version"] == 2 and criteria["components"][0]["description"]
    page = client.get("/v1/scorecards/churn_risk/criteria?format=html", headers=analyst)
    assert page.headers["content-type"].startswith("text/html") and "<table>" in page.text


def test_backtest_and_chart(client: TestClient, keys: dict[Role, str], scored: Database) -> None:
    analyst = auth(keys[Role.ANALYST])
    body = client.get(
        "/v1/scorecards/churn_risk/backtest?horizon_days=10&without_sentiment=true",
        headers=analyst,
    ).json()
    main = body["backtests"]["churn_risk@1"]["result"]
    assert main["auc"] == 1.0 and main["n_positive"] == 2
    assert "churn_risk_without_sentiment" in body["backtests"] and body["comparison"]
    png = client.get("/v1/scorecards/churn_risk/backtest.png?horizon_days=10", headers=analyst)
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    drift = client.get(
        "/v1/scorecards/churn_risk/drift?day=2026-10-31&reference_days=20", headers=analyst
    )
    assert drift.status_code == 200 and drift.json()["components"]


def test_features_point_in_time_and_export(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    viewer = auth(keys[Role.VIEWER])
    early = client.get(
        "/v1/features?accounts=sad-1&as_of=2026-10-12T00:00:00Z&basis=event"
        "&names=message_count_30d,metric_logins",
        headers=viewer,
    ).json()
    late = client.get(
        "/v1/features?accounts=sad-1&as_of=2026-10-31T00:00:00Z&basis=event"
        "&names=message_count_30d,metric_logins",
        headers=viewer,
    ).json()
    assert early["accounts"]["sad-1"]["message_count_30d"]["value"] == 1
    assert late["accounts"]["sad-1"]["message_count_30d"]["value"] == 3
    assert early["accounts"]["sad-1"]["metric_logins"]["value"] == 100
    assert late["accounts"]["sad-1"]["metric_logins"]["value"] == 40
    unknown = client.get("/v1/features?names=nope", headers=viewer)
    assert unknown.status_code == 422 and "names" in unknown.text
    future = client.get("/v1/features?as_of=2999-01-01T00:00:00Z", headers=viewer)
    assert future.status_code == 422 and "as_of" in future.text
    page = client.get("/v1/features?limit=2&names=message_count_30d", headers=viewer).json()
    assert len(page["accounts"]) == 2 and page["next_cursor"]
    csv_text = client.get("/v1/features/export?names=metric_logins", headers=viewer).text
    assert csv_text.splitlines()[0] == "account_id,metric_logins"
    assert len(csv_text.splitlines()) == 6
    parquet = client.get("/v1/features/export?format=parquet", headers=viewer)
    assert parquet.content[:4] == b"PAR1"
    catalog = client.get("/v1/features/catalog", headers=viewer).json()
    assert {"name": "seat_utilisation", "kind": "metric"}.items() <= catalog[-1].items()
