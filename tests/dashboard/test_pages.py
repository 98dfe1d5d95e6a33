"""Dashboard pages and forms through the real app (TestClient): sessions, CSRF, permissions,
security headers, empty states and the data the pages show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.auth.keys import revoke_key
from sentiment_service.dashboard.sessions import COOKIE_NAME, SessionSigner
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ApiKey, HealthOverride, LabelCorrection, Message
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.dashboard.conftest import login

HTMX = {"HX-Request": "true"}
PAGES = ["/", "/accounts/northwind", "/topics", "/scorecards", "/scorecards/churn_risk"]


def _expiry(days: int = 10) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _message_id(database: Database, account_id: str) -> int:
    with database.session() as session:
        row = session.exec(select(Message).where(Message.account_id == account_id)).first()
        assert row is not None and row.id is not None
        return row.id


# --- sessions -------------------------------------------------------------------------------


def test_logged_out_pages_redirect_to_login(scored_client: TestClient) -> None:
    for path in [*PAGES, "/accounts/northwind?notice=override"]:
        response = scored_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    target = scored_client.get("/accounts/northwind", follow_redirects=False).headers["location"]
    assert target == "/login?next=%2Faccounts%2Fnorthwind"
    fragment = scored_client.get("/topics/emerging", headers=HTMX, follow_redirects=False)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")
    post = scored_client.post("/accounts/northwind/overrides", data={}, follow_redirects=False)
    assert post.status_code == 303 and post.headers["location"].startswith("/login")


def test_login_sets_a_hardened_cookie_and_logout_clears_it(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    page = scored_client.get("/login?next=/topics")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert '<label for="api_key">' in page.text
    wrong = scored_client.post("/login", data={"api_key": "ssk_000000000000_" + "x" * 40})
    assert wrong.status_code == 401 and "unknown" in wrong.text
    assert COOKIE_NAME not in scored_client.cookies
    response = scored_client.post(
        "/login",
        data={"api_key": scored_keys[Role.VIEWER], "next": "/topics"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/topics"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    assert scored_keys[Role.VIEWER] not in response.headers["set-cookie"]
    home = scored_client.get("/")
    assert home.status_code == 200 and "dash-viewer" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token is not None
    assert scored_client.post("/logout", data={}).status_code == 403  # no CSRF token
    out = scored_client.post("/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    assert COOKIE_NAME not in scored_client.cookies
    assert scored_client.get("/", follow_redirects=False).status_code == 303


def test_login_refuses_other_sites_as_next_and_ingest_keys(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    ingest = scored_client.post("/login", data={"api_key": scored_keys[Role.INGEST]})
    assert ingest.status_code == 403 and "cannot use the dashboard" in ingest.text
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        response = scored_client.post(
            "/login",
            data={"api_key": scored_keys[Role.VIEWER], "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_cookie_is_secure_over_https_and_foreign_login_forms_are_refused(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    foreign = scored_client.post(
        "/login",
        data={"api_key": scored_keys[Role.VIEWER]},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    with TestClient(scored_client.app, base_url="https://testserver") as secure:
        response = secure.post(
            "/login", data={"api_key": scored_keys[Role.VIEWER]}, follow_redirects=False
        )
    assert response.status_code == 303 and "secure" in response.headers["set-cookie"].lower()


def test_revoked_key_ends_the_session(
    scored_client: TestClient, scored_db: Database, scored_keys: dict[Role, str]
) -> None:
    with scored_db.session() as session:
        from sentiment_service.auth.keys import create_key

        _, key = create_key(session, name="short-lived", role=Role.VIEWER, created_by="t")
    login(scored_client, key)
    assert scored_client.get("/").status_code == 200
    with scored_db.session() as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == "short-lived")).one()
        assert row.id is not None
        revoke_key(session, row.id)
    response = scored_client.get("/", follow_redirects=False)
    assert response.status_code == 303 and "ended=1" in response.headers["location"]
    assert COOKIE_NAME not in scored_client.cookies
    assert "session ended" in scored_client.get(response.headers["location"]).text


def test_forged_and_expired_cookies_are_refused() -> None:
    signer = SessionSigner(b"k" * 32, lifetime_seconds=60)
    value, _ = signer.issue(7, "abcdefabcdef", now=1000.0)
    assert signer.verify(value, now=1010.0) is not None
    assert signer.verify(value, now=1061.0) is None  # expired
    payload, signature = value.split(".")
    assert signer.verify(f"{payload}x.{signature}", now=1010.0) is None
    assert SessionSigner(b"z" * 32, 60).verify(value, now=1010.0) is None
    assert signer.verify("garbage", now=1010.0) is None
    data = signer.verify(value, now=1010.0)
    assert data is not None
    other = signer.verify(signer.issue(7, "abcdefabcdef", now=1000.0)[0], now=1010.0)
    assert other is not None and signer.csrf_token(data) != signer.csrf_token(other)


# --- pages ----------------------------------------------------------------------------------


def test_security_headers_on_every_dashboard_response(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    responses = [
        scored_client.get("/login"),
        scored_client.get("/", follow_redirects=False),
        scored_client.get("/static/dashboard.css"),
        scored_client.get("/static/vendor/htmx.min.js"),
    ]
    login(scored_client, scored_keys[Role.VIEWER])
    responses += [scored_client.get(path) for path in PAGES]
    responses.append(scored_client.get("/accounts/nobody"))
    for response in responses:
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, response.url
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    page = scored_client.get("/accounts/northwind")
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text and "<style" not in page.text
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page.text
    api = scored_client.get("/v1/accounts", headers=auth(scored_keys[Role.VIEWER]))
    assert api.status_code == 200 and "content-security-policy" not in api.headers


def test_portfolio_shows_bands_and_biggest_drops_first(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    login(scored_client, scored_keys[Role.VIEWER])
    page = scored_client.get("/").text
    assert "Accounts by band" in page and "Account health (renewal risk)" in page
    order = [m for m in re.findall(r'href="/accounts/([a-z]+)"', page)]
    assert set(order) == {"northwind", "globex", "initech", "umbrella"}
    # northwind and umbrella turned unhappy; initech turned happy: drops first
    assert order.index("initech") > order.index("northwind")
    assert order.index("initech") > order.index("umbrella")
    smb = scored_client.get("/?segment=smb").text
    assert "/accounts/initech" in smb and "/accounts/northwind" not in smb
    owner = scored_client.get("/", params={"owner": "Grace Hopper"}).text
    assert "/accounts/globex" in owner and "/accounts/initech" not in owner
    nothing = scored_client.get("/", params={"band": "no_such_band"}).text
    assert "No accounts match these filters" in nothing
    assert '<label for="f-segment">' in page and '<label for="f-band">' in page


def test_account_page_explains_health(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    login(scored_client, scored_keys[Role.VIEWER])
    page = scored_client.get("/accounts/northwind")
    assert page.status_code == 200
    text = page.text
    for part in [
        "Northwind Traders",
        "What makes up the score",
        "Customer sentiment (30 days)",
        "Peer percentile",
        "Confidence",
        "Evidence:",
        "Quorvo",  # evidence quote and competitor mention
        "Sentiment trend by source",
        '<svg class="chart"',
        "Topics",
        "Competitor mentions",
        "Data sources that went quiet",
        "Overrides",
        "/scorecards/churn_risk",
    ]:
        assert part in text, part
    assert "Only admins can set overrides." in text  # viewer: no override form
    assert 'name="scorecard"' not in text and "sentiment-label" not in text
    assert 'hx-get="/accounts/northwind/keyphrases"' in text


def test_unknown_account_and_scorecard_are_404_pages(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    login(scored_client, scored_keys[Role.VIEWER])
    for path in ["/accounts/nobody", "/accounts/bad%20id", "/scorecards/nope", "/scorecards/X"]:
        response = scored_client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "does not exist" in response.text


def test_topics_and_criteria_pages(scored_client: TestClient, scored_keys: dict[Role, str]) -> None:
    login(scored_client, scored_keys[Role.VIEWER])
    topics = scored_client.get("/topics").text
    assert "Topic summary" in topics and 'hx-get="/topics/emerging"' in topics
    assert "htmx-indicator" in topics
    emerging = scored_client.get("/topics/emerging", headers=HTMX)
    assert emerging.status_code == 200 and emerging.text.startswith('<div id="emerging">')
    assert "<html" not in emerging.text
    assert "<html" in scored_client.get("/topics/emerging").text  # without JS: a whole page
    criteria = scored_client.get("/scorecards/churn_risk").text
    assert "Share of negative messages" in criteria and "of the weight" in criteria
    assert "healthy" in criteria


# --- forms ----------------------------------------------------------------------------------


def test_override_form_needs_csrf_and_admin(
    scored_client: TestClient, scored_db: Database, scored_keys: dict[Role, str]
) -> None:
    form = {
        "scorecard": "churn_risk",
        "band": "healthy",
        "reason": "Renewal signed last week",
        "expires_on": _expiry(),
    }
    token = login(scored_client, scored_keys[Role.VIEWER])
    viewer = scored_client.post("/accounts/globex/overrides", data={**form, "csrf_token": token})
    assert viewer.status_code == 403 and "may not set overrides" in viewer.text
    token = login(scored_client, scored_keys[Role.ADMIN])
    missing = scored_client.post("/accounts/globex/overrides", data=form)
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = scored_client.post("/accounts/globex/overrides", data={**form, "csrf_token": "x"})
    assert wrong.status_code == 403
    with scored_db.session() as session:
        assert not session.exec(
            select(HealthOverride).where(HealthOverride.account_id == "globex")
        ).all()
    done = scored_client.post(
        "/accounts/globex/overrides",
        data={**form, "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/accounts/globex?notice=override#overrides"
    with scored_db.session() as session:
        rows = session.exec(
            select(HealthOverride).where(HealthOverride.account_id == "globex")
        ).all()
    assert len(rows) == 1 and rows[0].band == "healthy" and rows[0].created_by.startswith("key:")
    page = scored_client.get(done.headers["location"]).text
    assert "Override saved." in page and "Renewal signed last week" in page
    assert "active" in page


def test_override_form_with_htmx_swaps_fragments_and_reports_errors(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    token = login(scored_client, scored_keys[Role.ADMIN])
    bad = scored_client.post(
        "/accounts/umbrella/overrides",
        data={
            "csrf_token": token,
            "scorecard": "churn_risk",
            "band": "great",
            "reason": "Customer asked",
            "expires_on": _expiry(),
        },
        headers=HTMX,
    )
    assert bad.status_code == 422 and bad.text.startswith('<section id="overrides"')
    assert "not saved" in bad.text and "Band must be one of" in bad.text
    assert ">Customer asked</textarea>" in bad.text  # the input is kept
    short = scored_client.post(
        "/accounts/umbrella/overrides",
        data={
            "csrf_token": token,
            "scorecard": "churn_risk",
            "band": "healthy",
            "reason": "ok",
            "expires_on": _expiry(),
        },
        headers=HTMX,
    )
    assert short.status_code == 422 and "Reason: String should have at least 3" in short.text
    nothing = scored_client.post(
        "/accounts/umbrella/overrides",
        data={"csrf_token": token, "scorecard": "churn_risk", "reason": "because"},
        headers=HTMX,
    )
    assert nothing.status_code == 422 and "Give a band, a score or both" in nothing.text
    good = scored_client.post(
        "/accounts/umbrella/overrides",
        data={
            "csrf_token": token,
            "scorecard": "churn_risk",
            "score": "82.5",
            "reason": "Executive sponsor confirmed renewal",
            "expires_on": _expiry(30),
        },
        headers=HTMX,
    )
    assert good.status_code == 200 and "Override saved." in good.text
    assert 'id="health-panel" aria-labelledby="health-title" hx-swap-oob="true"' in good.text
    assert "82.5" in good.text and "Executive sponsor confirmed renewal" in good.text
    no_js_error = scored_client.post(
        "/accounts/umbrella/overrides",
        data={"csrf_token": token, "scorecard": "churn_risk", "score": "abc", "reason": "x"},
    )
    assert no_js_error.status_code == 422 and "<html" in no_js_error.text
    assert "Score must be a number" in no_js_error.text
    missing = scored_client.post(
        "/accounts/nobody/overrides",
        data={
            "csrf_token": token,
            "scorecard": "churn_risk",
            "band": "healthy",
            "reason": "because",
            "expires_on": _expiry(),
        },
    )
    assert missing.status_code == 404


def test_label_correction_by_analyst(
    scored_client: TestClient, scored_db: Database, scored_keys: dict[Role, str]
) -> None:
    message_id = _message_id(scored_db, "initech")
    path = f"/accounts/initech/messages/{message_id}/sentiment-label"
    token = login(scored_client, scored_keys[Role.VIEWER])
    assert (
        scored_client.post(path, data={"csrf_token": token, "label": "positive"}).status_code == 403
    )
    token = login(scored_client, scored_keys[Role.ANALYST])
    assert "Correct the sentiment label" in scored_client.get("/accounts/northwind").text
    assert "Set an override" not in scored_client.get("/accounts/northwind").text
    assert scored_client.post(path, data={"label": "positive"}).status_code == 403
    other = _message_id(scored_db, "globex")
    not_a_number = scored_client.post(
        "/accounts/initech/messages/abc/sentiment-label",
        data={"csrf_token": token, "label": "positive"},
    )
    assert not_a_number.status_code == 404 and "<html" in not_a_number.text
    wrong_account = scored_client.post(
        f"/accounts/initech/messages/{other}/sentiment-label",
        data={"csrf_token": token, "label": "positive"},
    )
    assert wrong_account.status_code == 404
    invalid = scored_client.post(
        path, data={"csrf_token": token, "label": "angry", "slot": "s1"}, headers=HTMX
    )
    assert invalid.status_code == 422 and "Choose negative, neutral or positive" in invalid.text
    saved = scored_client.post(
        path,
        data={"csrf_token": token, "label": "negative", "note": "sarcasm", "slot": "s1"},
        headers=HTMX,
    )
    assert saved.status_code == 200 and saved.text.startswith(
        '<div class="label-correction" id="lc-s1">'
    )
    assert "you marked this message negative" in saved.text
    plain = scored_client.post(
        path, data={"csrf_token": token, "label": "neutral"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"].endswith("notice=label#evidence")
    with scored_db.session() as session:
        rows = session.exec(
            select(LabelCorrection).where(LabelCorrection.message_id == message_id)
        ).all()
    assert [r.label for r in rows] == ["negative", "neutral"]
    assert rows[0].note == "sarcasm" and rows[0].corrected_by.endswith("dash-analyst")


# --- empty database (both backends) ---------------------------------------------------------


@pytest.fixture
def signed_in(client: TestClient, keys: dict[Role, str]) -> TestClient:
    login(client, keys[Role.VIEWER])
    return client


def test_empty_states(signed_in: TestClient, database: Database) -> None:
    home = signed_in.get("/")
    assert home.status_code == 200 and "No accounts yet" in home.text
    topics = signed_in.get("/topics")
    assert topics.status_code == 200 and "No topics in this period" in topics.text
    emerging = signed_in.get("/topics/emerging", headers=HTMX)
    assert emerging.status_code == 200 and "No emerging topics" in emerging.text
    signed_in.put(
        "/v1/accounts/lonely",
        json={"name": "Lonely Ltd"},
        headers=auth(_admin_key(database)),
    )
    home = signed_in.get("/").text
    assert "No health scores yet" in home and "Lonely Ltd" in home
    account = signed_in.get("/accounts/lonely").text
    assert "No health score for this account yet" in account
    assert "No scored customer messages" in account
    assert "Nobody has overridden" in account and "No topics found" in account


def _admin_key(database: Database) -> str:
    from sentiment_service.auth.keys import create_key

    with database.session() as session:
        _, key = create_key(session, name="admin-empty", role=Role.ADMIN, created_by="t")
    return key
