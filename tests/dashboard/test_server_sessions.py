"""Dashboard sessions live on the server: logout and key revocation end them for every copy
of the cookie, and the login form refuses posts from other origins (login CSRF)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.dashboard.sessions import COOKIE_NAME
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ApiKey, DashboardSession
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.dashboard.conftest import login


def _replay(client: TestClient, cookie: str) -> int:
    """The status of the home page fetched with a copy of an old cookie."""
    with TestClient(client.app) as other:
        other.cookies.set(COOKIE_NAME, cookie)
        return other.get("/", follow_redirects=False).status_code


def test_a_copied_cookie_stops_working_at_logout(
    scored_client: TestClient, scored_db: Database, scored_keys: dict[Role, str]
) -> None:
    token = login(scored_client, scored_keys[Role.VIEWER])
    cookie = scored_client.cookies[COOKIE_NAME]
    assert _replay(scored_client, cookie) == 200
    out = scored_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert _replay(scored_client, cookie) == 303  # back to the login page
    with scored_db.session() as session:
        rows = session.exec(select(DashboardSession)).all()
    assert rows and all(len(row.id) == 64 for row in rows)
    assert any(row.ended_at is not None for row in rows)
    assert all(cookie.split(".")[0] not in row.id for row in rows)  # only a hash is stored


def test_logging_out_one_session_leaves_the_others_signed_in(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    with TestClient(scored_client.app) as second:
        login(second, scored_keys[Role.VIEWER])
        token = login(scored_client, scored_keys[Role.VIEWER])
        scored_client.post("/logout", data={"csrf_token": token})
        assert second.get("/", follow_redirects=False).status_code == 200


def test_revoking_the_key_ends_its_sessions(
    scored_client: TestClient, scored_db: Database, scored_keys: dict[Role, str]
) -> None:
    with TestClient(scored_client.app) as admin_client:
        created = admin_client.post(
            "/v1/keys",
            json={"name": "short-lived-revoked", "role": "viewer"},
            headers=auth(scored_keys[Role.ADMIN]),
        ).json()
        login(scored_client, created["key"])
        cookie = scored_client.cookies[COOKIE_NAME]
        assert _replay(scored_client, cookie) == 200
        with scored_db.session() as session:
            key_id = session.exec(
                select(ApiKey.id).where(ApiKey.name == "short-lived-revoked")
            ).one()
        revoked = admin_client.delete(f"/v1/keys/{key_id}", headers=auth(scored_keys[Role.ADMIN]))
        assert revoked.status_code == 200, revoked.text
    assert _replay(scored_client, cookie) == 303


def test_login_posts_from_another_origin_are_refused(
    scored_client: TestClient, scored_keys: dict[Role, str]
) -> None:
    form = {"api_key": scored_keys[Role.VIEWER]}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # sandboxed frames and some redirects
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
    ):
        refused = scored_client.post("/login", data=form, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, headers
        assert "set-cookie" not in refused.headers
    own = scored_client.post(
        "/login",
        data=form,
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert own.status_code == 303 and COOKIE_NAME in own.headers["set-cookie"]
