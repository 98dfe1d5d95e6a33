"""The dashboard in a real browser: headless Debian Chromium driven by Playwright against a
uvicorn server on a free port, on the scored dashboard dataset.

Needs /usr/bin/chromium (`.ci/install-browser.sh` installs it); skipped without it.
Screenshots go to test-artifacts/screenshots/ (not committed).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.dashboard.conftest import dashboard_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium "
        "(run .ci/install-browser.sh)",
    ),
]


@contextmanager
def serve(url: str, database: Database, model_hub: ModelHub, data_dir: Path) -> Iterator[str]:
    """The app on `url`, served by uvicorn in a thread on a free local port; its base URL."""
    app = create_app(dashboard_settings(url, data_dir), database, model_hub)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def live_server(
    scored_url: str, scored_db: Database, model_hub: ModelHub, tmp_path_factory: Any
) -> Iterator[str]:
    """The dashboard on the small scored dataset."""
    with serve(scored_url, scored_db, model_hub, tmp_path_factory.mktemp("live")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the system one: no browser download)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


class Console:
    """Console messages and failed requests of a page (CSP violations show up here)."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))

    def problems(self) -> list[str]:
        return [
            m
            for m in self.messages
            if m.startswith(("error", "pageerror")) or "Content Security Policy" in m
        ]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _sign_in(page: Any, base: str, key: str, path: str = "/") -> None:
    page.goto(f"{base}{path}")
    page.fill("#api_key", key)
    page.click("#login-submit")
    page.wait_for_url(f"{base}{path}")


def test_login_form_works_with_the_keyboard(
    page: Any, live_server: str, scored_keys: dict[Role, str]
) -> None:
    console = Console(page)
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/login?next=")
    assert page.evaluate("document.activeElement.id") == "api_key"  # autofocus
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "login-desktop.png"))
    page.keyboard.type(scored_keys[Role.VIEWER])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-submit"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "keyboard focus must be visible"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Portfolio"
    page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert console.problems() == []


def test_portfolio_to_account_to_evidence(
    page: Any, live_server: str, scored_keys: dict[Role, str]
) -> None:
    console = Console(page)
    _sign_in(page, live_server, scored_keys[Role.ADMIN])
    page.get_by_role("link", name="Northwind Traders").click()
    page.wait_for_url(f"{live_server}/accounts/northwind")
    assert "Northwind Traders" in page.locator("h1").inner_text()
    page.wait_for_selector("#keyphrases:not([hx-get])")  # the lazy part arrived
    page.evaluate("window.__samePage = true")
    evidence = page.locator("#evidence-expansion")
    assert evidence.get_attribute("open") is None
    evidence.locator("summary").first.click()
    first_quote = evidence.locator(".quotes > li").first
    assert first_quote.locator("blockquote").is_visible()
    first_quote.locator("details.correct > summary").click()
    first_quote.get_by_label("Sentiment").select_option("neutral")
    first_quote.get_by_role("button", name="Save label").click()
    first_quote.get_by_text("you marked this message neutral").wait_for()
    assert page.evaluate("window.__samePage === true"), "htmx swapped, no page load"
    assert console.problems() == []


def test_override_form_swaps_in_the_result(
    page: Any, live_server: str, scored_keys: dict[Role, str]
) -> None:
    console = Console(page)
    _sign_in(page, live_server, scored_keys[Role.ADMIN], "/accounts/initech")
    page.evaluate("window.__samePage = true")
    form = page.locator("form.override-form")
    form.get_by_label("Scorecard").select_option("churn_risk")
    form.get_by_label("Band").select_option("at_risk")
    form.get_by_label("Reason").fill("Champion left the company")
    form.get_by_role("button", name="Save override").click()
    overrides = page.locator("#overrides")
    overrides.get_by_text("Override saved.").wait_for()
    row = overrides.locator("tbody tr").first
    assert "Champion left the company" in row.inner_text()
    assert "active" in row.inner_text()
    card = page.locator("#health-panel article").first
    assert "at risk" in card.locator(".score-line").inner_text()  # out-of-band swap
    assert "override" in card.locator(".score-line").inner_text()
    assert page.evaluate("window.__samePage === true")
    assert page.url == f"{live_server}/accounts/initech"
    assert console.problems() == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "375px"])
def test_screenshots_and_small_screens(
    browser: Any, live_server: str, scored_keys: dict[Role, str], viewport: dict[str, int]
) -> None:
    name = "desktop" if viewport["width"] > 1000 else "375px"
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    console = Console(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{live_server}/login")
        page.screenshot(path=str(SCREENSHOTS / f"login-{name}.png"), full_page=True)
        _sign_in(page, live_server, scored_keys[Role.ANALYST])
        for slug, path, ready in [
            ("portfolio", "/", "table.data"),
            ("account", "/accounts/northwind", "#keyphrases:not([hx-get])"),
            ("topics", "/topics", "#emerging:not([hx-get])"),
            ("criteria", "/scorecards/churn_risk", ".criteria"),
        ]:
            page.goto(f"{live_server}{path}")
            page.wait_for_selector(ready)
            page.screenshot(path=str(SCREENSHOTS / f"{slug}-{name}.png"), full_page=True)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways at {viewport['width']} px"
        assert console.problems() == []
    finally:
        context.close()
