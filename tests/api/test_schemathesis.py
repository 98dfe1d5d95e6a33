"""Property-based fuzzing of every operation in the live OpenAPI schema with schemathesis:
generated parameters and bodies (valid and invalid) must never produce a 5xx.

The app runs on its own SQLite database with an admin key (admin holds every permission, so
every operation's handler is reached; the role matrix itself is tests/api/test_auth.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import create_key
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role

_folder = Path(tempfile.mkdtemp(prefix="schemathesis-"))
_url = f"sqlite:///{_folder / 'fuzz.db'}"
migrate.upgrade(_url)
_database = Database(_url)
with _database.session() as _session:
    _, ADMIN_KEY = create_key(_session, name="fuzz", role=Role.ADMIN, created_by="tests")
_settings = Settings(
    database_url=_url, data_dir=_folder, preload_models=False, rate_limit_per_minute=0
)
app = create_app(_settings, _database, ModelHub())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), "X-API-Key": ADMIN_KEY}
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
