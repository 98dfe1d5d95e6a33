"""Fixtures shared by the API tests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sentiment_service.health.service import score_day
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from tests.health.data import DAY, load_accounts


@pytest.fixture
def scored(database: Database, model_hub: ModelHub) -> Database:
    """The health test accounts loaded and scored on DAY and 20 days before."""
    load_accounts(database, model_hub)
    with database.session() as session:
        score_day(session, DAY - timedelta(days=20), basis="event")
        score_day(session, DAY, basis="event")
    return database
