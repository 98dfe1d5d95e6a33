"""Authorisation: every endpoint x every role, no key and bad keys, against ROLE_PERMISSIONS."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.auth.permissions import ROLE_PERMISSIONS, Permission
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ApiKey, AuditLogEntry
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message, metric

# (method, path, body, permission needed); None = open to everyone.
ENDPOINTS: list[tuple[str, str, Any, Permission | None]] = [
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/metrics", None, Permission.METRICS),
    ("POST", "/v1/messages", {"messages": [message()]}, Permission.INGEST),
    ("POST", "/v1/metrics", {"metrics": [metric()]}, Permission.INGEST),
    ("POST", "/v1/outcomes", {"outcomes": []}, Permission.INGEST),
    ("PUT", "/v1/accounts/acme", account_body(), Permission.INGEST),
    ("GET", "/v1/accounts", None, Permission.READ),
    ("GET", "/v1/accounts/acme", None, Permission.READ),
    ("GET", "/v1/accounts/acme/messages", None, Permission.READ),
    ("GET", "/v1/accounts/acme/sentiment/trend", None, Permission.READ),
    ("GET", "/v1/sentiment/trend", None, Permission.READ),
    ("GET", "/v1/quarantine", None, Permission.READ_QUARANTINE),
    ("GET", "/v1/keys", None, Permission.ADMIN),
    ("POST", "/v1/keys", {"name": "x", "role": "viewer"}, Permission.ADMIN),
    ("DELETE", "/v1/keys/999999", None, Permission.ADMIN),
    ("POST", "/v1/sentiment", {"texts": ["The export works again, thanks!"]}, Permission.READ),
    ("GET", "/v1/models", None, Permission.READ),
    ("POST", "/v1/evaluations", None, Permission.EVALUATE),
    ("GET", "/v1/evaluations", None, Permission.EVALUATE),
    ("GET", "/v1/evaluations/999999", None, Permission.EVALUATE),
    ("GET", "/v1/evaluations/999999/report", None, Permission.EVALUATE),
    ("GET", "/v1/labelled-sets", None, Permission.EVALUATE),
    ("POST", "/v1/models/promotions", {"artifact_dir": "/nonexistent"}, Permission.ADMIN),
    ("GET", "/v1/models/promotions", None, Permission.EVALUATE),
    ("GET", "/v1/models/labelling-queue", None, Permission.EVALUATE),
    ("POST", "/v1/models/adaptations", {"epochs": 1}, Permission.EVALUATE),
    ("GET", "/v1/models/adaptations", None, Permission.EVALUATE),
    ("GET", "/v1/models/adaptations/999999", None, Permission.EVALUATE),
    ("POST", "/v1/models/adaptations/999999/promote", None, Permission.EVALUATE),
    ("PUT", "/v1/messages/999999/sentiment-label", {"label": "neutral"}, Permission.EVALUATE),
    ("GET", "/v1/taxonomy", None, Permission.READ),
    ("GET", "/v1/taxonomy/versions", None, Permission.READ),
    ("PUT", "/v1/taxonomy", {"taxonomy": {}, "reason": "matrix"}, Permission.ADMIN),
    ("GET", "/v1/topics", None, Permission.READ),
    ("GET", "/v1/topics/emerging", None, Permission.READ),
    (
        "POST",
        "/v1/topics/emerging/promote",
        {"key": "matrix", "name": "Matrix", "description": "A test topic.", "reason": "matrix"},
        Permission.ADMIN,
    ),
    ("GET", "/v1/topics/billing/messages", None, Permission.READ),
    ("GET", "/v1/accounts/acme/topics", None, Permission.READ),
    ("PUT", "/v1/messages/999999/topics/billing", {"present": True}, Permission.EVALUATE),
    ("GET", "/v1/messages/999999/topics", None, Permission.READ),
    ("GET", "/v1/scorecards", None, Permission.READ),
    ("GET", "/v1/scorecards/churn_risk", None, Permission.READ),
    ("PUT", "/v1/scorecards/churn_risk", {"scorecard": {}, "reason": "matrix"}, Permission.ADMIN),
    ("GET", "/v1/scorecards/churn_risk/versions", None, Permission.READ),
    ("GET", "/v1/scorecards/churn_risk/criteria", None, Permission.READ),
    ("POST", "/v1/scorecards/churn_risk/preview", {"scorecard": {}}, Permission.EVALUATE),
    ("GET", "/v1/scorecards/churn_risk/backtest", None, Permission.EVALUATE),
    ("GET", "/v1/scorecards/churn_risk/backtest.png", None, Permission.EVALUATE),
    ("POST", "/v1/scorecards/churn_risk/suggest-weights", None, Permission.EVALUATE),
    ("POST", "/v1/scorecards/churn_risk/calibrate-bands", {}, Permission.EVALUATE),
    ("GET", "/v1/scorecards/churn_risk/drift", None, Permission.EVALUATE),
    ("GET", "/v1/accounts/acme/health", None, Permission.READ),
    ("GET", "/v1/accounts/acme/health/history", None, Permission.READ),
    ("GET", "/v1/accounts/acme/overrides", None, Permission.READ),
    ("POST", "/v1/accounts/acme/overrides", {"scorecard": "churn_risk"}, Permission.ADMIN),
    ("DELETE", "/v1/accounts/acme/overrides/999999", None, Permission.ADMIN),
    ("GET", "/v1/features", None, Permission.READ),
    ("GET", "/v1/features/catalog", None, Permission.READ),
    ("GET", "/v1/features/export", None, Permission.READ),
    ("DELETE", "/v1/accounts/acme", None, Permission.ADMIN),
    (
        "POST",
        "/v1/alerts/rules",
        {"name": "matrix", "kind": "data_dark", "webhook_url": "http://127.0.0.1:9/hook"},
        Permission.ADMIN,
    ),
    ("GET", "/v1/alerts/rules", None, Permission.READ),
    ("GET", "/v1/alerts/rules/999999", None, Permission.READ),
    ("PATCH", "/v1/alerts/rules/999999", {"enabled": False}, Permission.ADMIN),
    ("DELETE", "/v1/alerts/rules/999999", None, Permission.ADMIN),
    ("POST", "/v1/alerts/evaluate", None, Permission.ADMIN),
    ("GET", "/v1/alerts/events", None, Permission.READ),
    ("GET", "/v1/alerts/deliveries", None, Permission.READ),
]


def _template(path: str) -> str:
    for prefix, name in (
        ("/v1/keys/", "key_id"),
        ("/v1/evaluations/", "run_id"),
        ("/v1/messages/", "message_id"),
        ("/v1/alerts/rules/", "rule_id"),
        ("/v1/models/adaptations/", "job_id"),
    ):
        if path.startswith(prefix):
            path = path.replace("999999", "{" + name + "}")
    if path.startswith("/v1/messages/"):
        path = path.replace("/topics/billing", "/topics/{topic}")
    path = path.replace("/v1/topics/billing/", "/v1/topics/{key}/")
    path = path.replace("/v1/scorecards/churn_risk", "/v1/scorecards/{card_id}")
    path = path.replace("/overrides/999999", "/overrides/{override_id}")
    return path.replace("/v1/accounts/acme", "/v1/accounts/{account_id}")


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert len(routes) >= len(ENDPOINTS) - 1
    covered = {(method, path) for method, path, _, _ in ENDPOINTS}
    templated = {(m, _template(p)) for m, p in covered}
    assert routes - templated == set()


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> int:
    return client.request(method, path, json=body, headers=headers).status_code


@pytest.mark.parametrize(("method", "path", "body", "permission"), ENDPOINTS)
def test_role_matrix(
    client: TestClient,
    keys: dict[Role, str],
    method: str,
    path: str,
    body: Any,
    permission: Permission | None,
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    for role in Role:
        status = _call(client, method, path, body, auth(keys[role]))
        allowed = permission is None or permission in ROLE_PERMISSIONS[role]
        if allowed:
            assert status not in (401, 403), (role, status)
        else:
            assert status == 403, (role, status)
    expected_anonymous = 200 if permission is None else 401
    assert _call(client, method, path, body, {}) == expected_anonymous
    if permission is not None:
        bad = "ssk_000000000000_" + "A" * 43
        assert _call(client, method, path, body, auth(bad)) == 401
        assert _call(client, method, path, body, auth("garbage")) == 401


def test_401_and_403_are_problem_documents(client: TestClient, keys: dict[Role, str]) -> None:
    missing = client.get("/v1/accounts")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["title"] == "Unauthorized"
    forbidden = client.get("/v1/keys", headers=auth(keys[Role.VIEWER]))
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]


def test_bearer_header_works(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.get("/v1/accounts", headers={"Authorization": f"Bearer {keys[Role.VIEWER]}"})
    assert response.status_code == 200


def test_wrong_secret_with_a_real_prefix_is_refused(
    client: TestClient, keys: dict[Role, str]
) -> None:
    prefix = keys[Role.ADMIN].split("_")[1]
    response = client.get("/v1/keys", headers=auth(f"ssk_{prefix}_" + "B" * 43))
    assert response.status_code == 401


def test_key_lifecycle_created_once_listed_without_secret_revoked(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    admin = auth(keys[Role.ADMIN])
    created = client.post("/v1/keys", json={"name": "scoring", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    new_key = created.json()["key"]
    assert client.get("/v1/accounts", headers=auth(new_key)).status_code == 200
    listed = client.get("/v1/keys", headers=admin).json()
    assert "key" not in listed[-1] and new_key not in str(listed)
    assert listed[-1]["last_used_at"] is not None
    with database.session() as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == "scoring")).one()
        assert new_key.split("_", 2)[2] not in row.secret_hash
    revoked = client.delete(f"/v1/keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/v1/accounts", headers=auth(new_key)).status_code == 401
    with database.session() as session:
        actions = session.exec(select(AuditLogEntry.action).order_by(AuditLogEntry.id)).all()
    assert actions[-2:] == ["key.create", "key.revoke"]


def test_revoking_an_unknown_key_is_404(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.delete("/v1/keys/424242", headers=auth(keys[Role.ADMIN]))
    assert response.status_code == 404


def test_creating_a_key_with_an_unknown_role_names_the_field(
    client: TestClient, keys: dict[Role, str]
) -> None:
    response = client.post(
        "/v1/keys", json={"name": "x", "role": "root"}, headers=auth(keys[Role.ADMIN])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "role"
