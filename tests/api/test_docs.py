"""/docs serves Swagger UI from vendored files under a CSP; API HTML documents get the
dashboard's security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from sentiment_service.api.docs import STATIC_DIR, SWAGGER_UI_VERSION
from sentiment_service.dashboard.headers import DOCS_CSP, DOCUMENT_CSP, HEADERS
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import EvaluationRun
from sentiment_service.vocabulary import Role
from tests.conftest import auth

SECURITY_HEADERS = {name.decode() for name, _ in HEADERS}


def _assert_secured(response: Response, policy: str) -> None:
    headers = response.headers
    assert set(headers) >= SECURITY_HEADERS, set(headers)
    assert headers["content-security-policy"] == policy
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_docs_load_every_asset_from_the_service_itself(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    _assert_secured(page, DOCS_CSP)
    assert "'unsafe-eval'" not in DOCS_CSP and "script-src 'self';" in DOCS_CSP
    assert "<script>" not in page.text  # no inline script: the CSP allows 'self' only
    urls = re.findall(r"(?:src|href)='([^']+)'", page.text)
    assert urls and all(url.startswith("/docs/static/") for url in urls), urls
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN


def test_the_vendored_package_carries_its_licence_and_version() -> None:
    folder = STATIC_DIR / "swagger-ui"
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert f"**{SWAGGER_UI_VERSION}**" in (folder / "VENDOR.md").read_text()
    bundle = (folder / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in bundle and "cdn.jsdelivr" not in bundle


def test_the_criteria_page_and_the_evaluation_report_get_the_security_headers(
    client: TestClient, database: Database, keys: dict[Role, str]
) -> None:
    headers = auth(keys[Role.ANALYST])
    criteria = client.get("/v1/scorecards/churn_risk/criteria?format=html", headers=headers)
    assert criteria.status_code == 200
    _assert_secured(criteria, DOCUMENT_CSP)
    assert criteria.headers["cache-control"] == "no-store"
    with database.session() as session:
        run = EvaluationRun(
            model_name="m",
            model_version="1",
            dataset_name="d",
            dataset_sha256="0" * 64,
            n=1,
            mode="message",
            summary={},
            report_html="<html><body><script>alert(1)</script></body></html>",
            created_by="tests",
        )
        session.add(run)
        session.commit()
        run_id = run.id
    report = client.get(f"/v1/evaluations/{run_id}/report", headers=headers)
    assert report.status_code == 200
    _assert_secured(report, DOCUMENT_CSP)
    assert "script-src" not in DOCUMENT_CSP and "default-src 'none'" in DOCUMENT_CSP
    json_answer = client.get("/v1/scorecards/churn_risk/criteria", headers=headers)
    assert "content-security-policy" not in json_answer.headers  # the JSON API is left alone
