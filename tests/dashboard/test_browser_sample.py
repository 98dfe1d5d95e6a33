"""The dashboard in headless Chromium on the bundled sample data, loaded, scored and health-
scored exactly as `sentiment-service demo` does: portfolio -> account -> evidence -> override.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import func, select

from pipelines.ingest import IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.auth.keys import create_key
from sentiment_service.health.service import data_end, score_range
from sentiment_service.model_hub import ModelHub
from sentiment_service.sample_loader import load_sample_data
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message
from sentiment_service.vocabulary import Role
from tests.dashboard.test_browser import (
    DESKTOP,
    SCREENSHOTS,
    Console,
    _sign_in,
    browser,  # noqa: F401  (fixture)
    pytestmark,
    serve,
)

pytestmark = [*pytestmark, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample_server(model_hub: ModelHub, tmp_path_factory: Any) -> Iterator[tuple[str, str]]:
    """The demo's database behind a live server; (base URL, admin key)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.db'}"
    migrate.upgrade(url)
    database = Database(url)
    load_sample_data(database, IngestPolicy())
    ScoringWorker(
        database, model_hub.scorer(), topics=lambda s: topic_model(s, model_hub), worker_id="t"
    ).drain()
    with database.session() as session:
        first = session.exec(select(func.min(Message.created_at))).one()
        last = data_end(session)
        _, key = create_key(session, name="browser", role=Role.ADMIN, created_by="t")
    assert first is not None and last is not None
    score_range(database, first.date(), last, basis="event", step_days=7)
    with serve(url, database, model_hub, tmp_path_factory.mktemp("data")) as base:
        yield base, key
    database.dispose()


def test_sample_portfolio_account_evidence_and_override(
    browser: Any,  # noqa: F811
    sample_server: tuple[str, str],
) -> None:
    base, key = sample_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    console = Console(page)
    _sign_in(page, base, key)
    assert page.locator("table tbody tr").count() == 30  # every sample account
    page.screenshot(path=str(SCREENSHOTS / "sample-portfolio.png"), full_page=True)
    page.get_by_role("link", name="Cobalt Ridge Health").first.click()
    page.wait_for_url(f"{base}/accounts/acct-002")
    evidence = page.locator("details[id^=evidence-]").first
    if evidence.get_attribute("open") is None:
        evidence.locator("summary").first.click()
    assert evidence.locator("blockquote").first.is_visible()
    form = page.locator("form.override-form")
    form.get_by_label("Scorecard").select_option("churn_risk")
    form.get_by_label("Band").select_option("healthy")
    form.get_by_label("Reason").fill("Signed the renewal early")
    form.get_by_role("button", name="Save override").click()
    page.locator("#overrides").get_by_text("Override saved.").wait_for()
    assert "Signed the renewal early" in page.locator("#overrides tbody tr").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sample-account.png"), full_page=True)
    assert console.problems() == []
    context.close()
