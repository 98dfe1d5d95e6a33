"""Dashboard fixtures: one scored SQLite database per test session, an app on it, keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import create_key
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.dashboard import data

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def scored_url(tmp_path_factory: pytest.TempPathFactory, model_hub: ModelHub) -> str:
    """A migrated SQLite database holding the scored dashboard dataset."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dashboard.db'}"
    migrate.upgrade(url)
    database = Database(url)
    try:
        data.load(database, model_hub)
    finally:
        database.dispose()
    return url


@pytest.fixture(scope="session")
def scored_db(scored_url: str) -> Iterator[Database]:
    """The scored database (shared: tests that write use their own account)."""
    database = Database(scored_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def scored_keys(scored_db: Database) -> dict[Role, str]:
    """One API key per role in the scored database."""
    made: dict[Role, str] = {}
    with scored_db.session() as session:
        for role in Role:
            _, made[role] = create_key(session, name=f"dash-{role}", role=role, created_by="t")
    return made


def dashboard_settings(url: str, data_dir: Path) -> Settings:
    """Settings for a dashboard app on `url`."""
    return Settings(
        database_url=url,
        data_dir=data_dir,
        preload_models=False,
        session_secret="test-session-secret-of-enough-length",  # type: ignore[arg-type]
    )


@pytest.fixture
def scored_client(
    scored_url: str, scored_db: Database, model_hub: ModelHub, tmp_path: Path
) -> Iterator[TestClient]:
    """A client of the app on the scored database (no cookies yet)."""
    app = create_app(dashboard_settings(scored_url, tmp_path), scored_db, model_hub)
    with TestClient(app) as client:
        yield client


def login(client: TestClient, key: str) -> str:
    """Sign `client` in with `key`; the CSRF token of the session."""
    response = client.post("/login", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/scorecards")
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)
