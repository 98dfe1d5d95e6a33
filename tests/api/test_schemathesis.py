"""Property-based fuzzing of every operation in the live OpenAPI schema with schemathesis.

Each generated case (valid and invalid parameters and bodies) is sent once with a valid key of
every role, and every response is validated against the schema: no 5xx, a documented status
code, a documented content type, a body that matches the documented schema and the documented
response headers. The app runs on its own SQLite database seeded with a little data, so that
read operations also answer 200 with real bodies, not only 404s.

Cost is bounded for CI: per operation, `MAX_EXAMPLES` random cases (the fuzzing phase) and
the schema's explicit examples are each sent with every role's key; the deterministic
coverage-phase cases (boundary and invalid values, a few hundred for the largest bodies) are
each sent once, with a role picked from the case's content, so every role still sees a
quarter of them.
"""

from __future__ import annotations

import tempfile
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import authenticate, create_key
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.factories import account_body, message, metric

MAX_EXAMPLES = 8

# Dates and timestamps at the edges of Python's years 1..9999 (also once converted to UTC) and
# of the supported range, mixed into every `format: date` / `date-time` value schemathesis
# generates (parameters and bodies): they must be refused with a 4xx, never a 5xx.
DATE_EDGES = ["0001-01-01", "1969-12-31", "1970-01-01", "9000-12-31", "9001-01-01", "9999-12-31"]
MOMENT_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00Z",
    "9000-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-12:00",
]
_offsets = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
schemathesis.openapi.format(
    "date", st.one_of(st.sampled_from(DATE_EDGES), st.dates().map(date.isoformat))
)
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(MOMENT_EDGES),
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.one_of(st.just(UTC), _offsets.map(timezone)),
        ).map(datetime.isoformat),
    ),
)

# Checks left out, on purpose:
# - negative_data_rejection: it wants a 4xx for every input schemathesis deems invalid, but
#   the ingestion bodies are deliberately loose (`RawRecords`: each record is validated on its
#   own and quarantined with a reason, so a batch with a bad record is a 200, not a 4xx).
# - positive_data_acceptance: schema-valid data is often refused for reasons a schema cannot
#   express (an account that does not exist -> 404, a cursor from another listing -> 422).
# - max_response_time: timings on shared 2-core CI runners say nothing about the API.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

_folder = Path(tempfile.mkdtemp(prefix="schemathesis-"))
_url = f"sqlite:///{_folder / 'fuzz.db'}"
migrate.upgrade(_url)
_database = Database(_url)
# Fuzzed alert rules fire and POST /v1/alerts/evaluate delivers to their (unresolvable)
# webhooks within the request: one quick attempt each keeps it under the request timeout.
_settings = Settings(
    database_url=_url,
    data_dir=_folder,
    preload_models=False,
    rate_limit_per_minute=0,
    alert_max_attempts=1,
    alert_webhook_timeout_seconds=1.0,
)
app = create_app(_settings, _database, ModelHub())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def _new_keys() -> dict[Role, str]:
    with _database.session() as session:
        return {
            role: create_key(session, name=f"fuzz-{role}", role=role, created_by="tests")[1]
            for role in Role
        }


KEYS = _new_keys()
# Path values that exist once `_seed` ran; generated path parameters are often swapped for one
# of them, so that operations on one resource also answer 200 (and their bodies get checked).
KNOWN_PATH_VALUES: dict[str, list[Any]] = {
    "account_id": ["acme", "globex"],
    "card_id": ["churn_risk", "expansion"],
    "key": ["billing"],
    "topic": ["billing"],
    "message_id": [1, 2, 3],
    "rule_id": [1],
    "override_id": [1],
}


def _seed() -> None:
    """Accounts with messages, metrics, an override and an alert rule (all idempotent, except
    that a deleted override or rule comes back under a new id)."""
    headers = {"X-API-Key": KEYS[Role.ADMIN]}
    with TestClient(app) as client:
        for account in ("acme", "globex"):
            client.put(f"/v1/accounts/{account}", json=account_body(), headers=headers)
        client.post(
            "/v1/messages",
            json={"messages": [message(f"m-{i}", account_id="acme") for i in range(3)]},
            headers=headers,
        )
        client.post("/v1/metrics", json={"metrics": [metric()]}, headers=headers)
        client.post(
            "/v1/accounts/acme/overrides",
            json={
                "scorecard": "churn_risk",
                "score": 40.0,
                "reason": "seeded for the fuzz test",
                "expires_at": "2099-01-01T00:00:00Z",
            },
            headers=headers,
        )
        client.post(  # disabled: evaluating it must not post to a webhook
            "/v1/alerts/rules",
            json={
                "name": "seeded",
                "kind": "data_dark",
                "webhook_url": "http://127.0.0.1:9/hook",
                "enabled": False,
            },
            headers=headers,
        )


def _restore() -> None:
    """After a successful DELETE: mint fresh keys if one was revoked, and seed again."""
    with _database.session() as session:
        revoked = any(authenticate(session, key) is None for key in KEYS.values())
    if revoked:
        KEYS.update(_new_keys())
    _seed()


def _roles_for(case: schemathesis.Case) -> list[Role]:
    """Every role, or for a coverage-phase case one role chosen by its content (stable when
    hypothesis replays the case)."""
    roles = list(Role)
    if case.meta is None or case.meta.phase.name != TestPhase.COVERAGE:
        return roles
    content = repr((case.path_parameters, case.query, case.headers, case.body))
    return [roles[zlib.crc32(content.encode()) % len(roles)]]


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Keep each generated path value, or swap it for a value known to exist."""
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *KNOWN_PATH_VALUES.get(name, [])])
            for name, value in (path_parameters or {}).items()
        }
    )


_seed()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_schema_for_every_role(case: schemathesis.Case) -> None:
    for role in _roles_for(case):
        headers = {**(case.headers or {}), "X-API-Key": KEYS[role]}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if case.method == "DELETE" and response.status_code < 300:
            _restore()
