"""Dates and timestamps outside the supported range are a 422 naming the field, on every
operation: never a 500 (OverflowError in date arithmetic) and never a 200 cut off mid-stream."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from pipelines.dates import LATEST_DAY, Day, Moment
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message, metric

DAY_EDGES = ["0001-01-01", "1969-12-31", "9000-12-32", "9001-01-01", "9999-12-31"]
MOMENT_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC: the conversion itself overflows
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
]
PATH_VALUES = {"account_id": "acme", "card_id": "churn_risk", "key": "billing"}


def _format(parameter: dict[str, Any]) -> str | None:
    schema = parameter.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("format") in ("date", "date-time"):
            return str(option["format"])
    return None


def _date_query_parameters(spec: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                kind = _format(parameter)
                if parameter["in"] == "query" and kind:
                    found.append((method.upper(), path, parameter["name"], kind))
    return found


def test_the_types_accept_the_range_ends_and_refuse_beyond() -> None:
    days, moments = TypeAdapter(Day), TypeAdapter(Moment)
    assert days.validate_python("1970-01-01") == date(1970, 1, 1)
    assert days.validate_python(LATEST_DAY.isoformat()) == LATEST_DAY
    assert moments.validate_python("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert moments.validate_python("2026-01-01T00:00:00").tzinfo is None  # naive stays naive
    for value in DAY_EDGES[:2] + DAY_EDGES[3:]:
        with pytest.raises(ValidationError, match="supported range"):
            days.validate_python(value)
    for value in MOMENT_EDGES:
        with pytest.raises(ValidationError, match="supported range"):
            moments.validate_python(value)


def test_every_date_query_parameter_refuses_out_of_range_values_with_a_422(
    client: TestClient, keys: dict[Role, str]
) -> None:
    headers = auth(keys[Role.ADMIN])
    client.put("/v1/accounts/acme", json=account_body(), headers=headers)
    parameters = _date_query_parameters(client.get("/openapi.json").json())
    names = {(path, name) for _, path, name, _ in parameters}
    # the routes the outside probe found, at least, are covered by the generic sweep
    assert {
        ("/v1/accounts/{account_id}/health", "day"),
        ("/v1/features", "as_of"),
        ("/v1/features/export", "as_of"),
        ("/v1/scorecards/{card_id}/drift", "day"),
        ("/v1/sentiment/trend", "since"),
        ("/v1/alerts/evaluate", "as_of"),
    } <= names
    for method, path, name, kind in parameters:
        url = path.format_map(defaultdict(lambda: "x", PATH_VALUES))
        for value in DAY_EDGES if kind == "date" else MOMENT_EDGES:
            response = client.request(method, url, params={name: value}, headers=headers)
            assert response.status_code == 422, (method, path, name, value, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            fields = [error["field"] for error in response.json()["errors"]]
            assert any(name in field for field in fields), (path, name, value, fields)


def test_the_csv_export_validates_before_it_streams(
    client: TestClient, keys: dict[Role, str]
) -> None:
    response = client.get(
        "/v1/features/export",
        params={"format": "csv", "as_of": "0001-01-01T00:00:00Z"},
        headers=auth(keys[Role.VIEWER]),
    )
    assert response.status_code == 422
    assert "as_of" in response.text and "supported range" in response.text


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00"])
def test_date_body_fields_are_refused_or_quarantined_naming_the_field(
    client: TestClient, keys: dict[Role, str], value: str
) -> None:
    headers = auth(keys[Role.ADMIN])
    assert client.put("/v1/accounts/acme", json=account_body(), headers=headers).status_code < 300
    card = client.get("/v1/scorecards/churn_risk", headers=headers).json()["scorecard"]
    refused = {
        "renewal_date": client.put(
            "/v1/accounts/acme", json={**account_body(), "renewal_date": value}, headers=headers
        ),
        "day": client.post(
            "/v1/scorecards/churn_risk/preview",
            json={"scorecard": card, "day": value},
            headers=headers,
        ),
        "expires_at": client.post(
            "/v1/accounts/acme/overrides",
            json={"scorecard": "churn_risk", "score": 3, "reason": "edge", "expires_at": value},
            headers=headers,
        ),
    }
    for field, response in refused.items():
        assert response.status_code == 422, (field, response.text)
        assert field in response.json()["errors"][0]["field"]
    outcome = {"account_id": "acme", "outcome": "churned"}
    quarantined = {
        "occurred_on": ("/v1/outcomes", "outcomes", {**outcome, "occurred_on": value}),
        "occurred_at": ("/v1/outcomes", "outcomes", {**outcome, "occurred_at": value}),
        "observed_at": ("/v1/metrics", "metrics", {**metric(), "observed_at": value}),
        "created_at": ("/v1/messages", "messages", {**message("edge"), "created_at": value}),
    }
    for field, (path, key, record) in quarantined.items():
        response = client.post(path, json={key: [record]}, headers=headers)
        assert response.status_code == 200, (field, response.text)
        (rejected,) = response.json()["rejected"]
        assert rejected["field"] in (field, "occurred_on"), rejected
