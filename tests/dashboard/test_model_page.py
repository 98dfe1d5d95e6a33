"""The dashboard's Model page: model facts for everyone; for analysts and admins the labelling
queue with one-click labels (CSRF, permissions), the adaptation button and the jobs table
with the gate's verdict. Runs on a per-test database with crafted scores and a fake adapter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from models.sentiment.inference import DEFAULT_VERSION
from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import create_key
from sentiment_service.dashboard.headers import CONTENT_SECURITY_POLICY
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import LabelCorrection, ModelJob
from sentiment_service.vocabulary import Role
from tests.api.test_adaptations import FakeAdapter, labelled_rows, seed, use_adapter
from tests.dashboard.conftest import dashboard_settings, login

HTMX = {"HX-Request": "true"}
QUEUE_ROWS = [
    ("Renewal is on hold until legal signs off.", "a1", "csm_note", (0.40, 0.45, 0.15)),
    ("Great export, but the invoices are late again.", "a2", "ticket", (0.34, 0.33, 0.33)),
    ("Thanks for the quick reply!", "a3", "chat", (0.05, 0.15, 0.80)),
]


@pytest.fixture
def app_client(
    database_url: str, database: Database, model_hub: ModelHub, tmp_path: Path
) -> Iterator[TestClient]:
    """A dashboard client on the per-test database (emptied after the test)."""
    app = create_app(dashboard_settings(database_url, tmp_path), database, model_hub)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def role_keys(database: Database) -> dict[Role, str]:
    made: dict[Role, str] = {}
    with database.session() as session:
        for role in (Role.VIEWER, Role.ANALYST, Role.ADMIN):
            _, made[role] = create_key(session, name=f"page-{role}", role=role, created_by="t")
    return made


def _queue_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="panel" id="q-(\d+)">', html)]


def test_viewers_see_the_model_but_neither_queue_nor_jobs(
    app_client: TestClient, role_keys: dict[Role, str], database: Database
) -> None:
    seed(database, QUEUE_ROWS)
    login(app_client, role_keys[Role.VIEWER])
    page = app_client.get("/model")
    assert page.status_code == 200
    assert '<a href="/model" aria-current="page">Model</a>' in page.text
    assert DEFAULT_VERSION in page.text and "non-commercial" in page.text
    assert "No evaluations are stored yet" in page.text
    assert "Labelling queue" not in page.text and "/model/labels/" not in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " onclick" not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = app_client.post(
        "/model/labels/1", data={"csrf_token": token.group(1), "label": "neutral"}
    )
    assert refused.status_code == 403 and "may not label messages" in refused.text
    assert (
        app_client.post("/model/adaptations", data={"csrf_token": token.group(1)}).status_code
        == 403
    )
    with database.session() as session:
        assert session.exec(select(LabelCorrection)).first() is None


def test_one_click_label_from_the_queue(
    app_client: TestClient, role_keys: dict[Role, str], database: Database
) -> None:
    ids = seed(database, QUEUE_ROWS)
    token = login(app_client, role_keys[Role.ANALYST])
    page = app_client.get("/model").text
    assert _queue_ids(page) == [ids[1], ids[0], ids[2]]  # margins 0.01, 0.05, 0.65
    assert "0 of the 30 labelled messages needed" in page
    assert "disabled" in page and "(30 more)." in page
    assert page.count('name="label" value="negative"') == 3
    path = f"/model/labels/{ids[1]}"
    assert app_client.post(path, data={"label": "negative"}).status_code == 403  # no CSRF
    assert app_client.post(path, data={"csrf_token": token, "label": "angry"}).status_code == 422
    assert (
        app_client.post(
            "/model/labels/x", data={"csrf_token": token, "label": "neutral"}
        ).status_code
        == 404
    )
    missing = app_client.post(
        "/model/labels/424242", data={"csrf_token": token, "label": "neutral"}
    )
    assert missing.status_code == 404 and "Message 424242" in missing.text
    plain = app_client.post(
        path, data={"csrf_token": token, "label": "negative"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/model?notice=label#queue"
    after = app_client.get(plain.headers["location"]).text
    assert "Label saved." in after and _queue_ids(after) == [ids[0], ids[2]]
    assert "1 of the 30 labelled messages needed" in after
    fragment = app_client.post(
        f"/model/labels/{ids[0]}", data={"csrf_token": token, "label": "neutral"}, headers=HTMX
    )
    assert fragment.status_code == 200 and fragment.text.startswith('<section id="queue"')
    assert f"Saved: message {ids[0]} is neutral." in fragment.text
    assert _queue_ids(fragment.text) == [ids[2]]
    with database.session() as session:
        rows = session.exec(select(LabelCorrection).order_by(LabelCorrection.id)).all()  # type: ignore[arg-type]
    assert [(r.message_id, r.label, r.corrected_by.endswith(":page-analyst")) for r in rows] == [
        (ids[1], "negative", True),
        (ids[0], "neutral", True),
    ]


def test_adaptation_button_starts_a_job_and_the_table_shows_it(
    app_client: TestClient, role_keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    jobs = use_adapter(app_client, FakeAdapter())
    token = login(app_client, role_keys[Role.ADMIN])
    page = app_client.get("/model").text
    assert "30 of the 30 labelled messages needed" in page
    assert 'id="start-adaptation">' in page  # enabled
    assert app_client.post("/model/adaptations", data={}).status_code == 403  # no CSRF
    started = app_client.post(
        "/model/adaptations", data={"csrf_token": token}, follow_redirects=False
    )
    assert (
        started.status_code == 303
        and started.headers["location"] == "/model?notice=adaptation#jobs"
    )
    with database.session() as session:
        job = session.exec(select(ModelJob)).one()
    assert job.requested_by.endswith(":page-admin")
    assert jobs.wait(job.id or 0).status == "succeeded"
    page = app_client.get("/model?notice=adaptation").text
    assert "Adaptation started" in page
    assert f'<tr id="job-{job.id}">' in page and "minilm-adapted.1" in page
    assert "heldout new macro-F1 50.0\u00a0% → 75.0\u00a0%" in page
    assert f'action="/model/adaptations/{job.id}/promote"' in page
    assert 'hx-trigger="every 5s"' not in page  # nothing runs: no polling
    no_gate = app_client.post(f"/model/adaptations/{job.id}/promote", data={"csrf_token": token})
    assert no_gate.status_code == 422 and "Gate not started" in no_gate.text
    assert "No labelled set other than" in no_gate.text
    unknown = app_client.post("/model/adaptations/999/promote", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_a_second_adaptation_while_one_runs_is_a_409_page_and_the_table_polls(
    app_client: TestClient, role_keys: dict[Role, str], database: Database
) -> None:
    import threading

    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    hold = threading.Event()
    jobs = use_adapter(app_client, FakeAdapter(hold=hold))
    token = login(app_client, role_keys[Role.ANALYST])
    try:
        app_client.post("/model/adaptations", data={"csrf_token": token})
        busy = app_client.post("/model/adaptations", data={"csrf_token": token})
        assert busy.status_code == 409 and "Adaptation not started" in busy.text
        assert "wait until it ends" in busy.text
        fragment = app_client.get("/model/jobs", headers=HTMX)
        assert fragment.status_code == 200 and 'hx-trigger="every 5s"' in fragment.text
        assert app_client.get("/model/jobs", follow_redirects=False).status_code == 303
    finally:
        hold.set()
    with database.session() as session:
        job_id = session.exec(select(ModelJob.id)).one()
    assert jobs.wait(job_id or 0).status == "succeeded"


def test_the_gate_verdict_is_shown(
    app_client: TestClient, role_keys: dict[Role, str], database: Database
) -> None:
    with database.session() as session:
        adaptation = ModelJob(
            kind="adaptation",
            status="succeeded",
            requested_by="key:1:ana",
            params={"seed": 13, "labelled": 40},
            result={"artifact_dir": "/x", "model_version": "minilm-adapted-1", "report": {}},
        )
        session.add(adaptation)
        session.flush()
        session.add(
            ModelJob(
                kind="promotion",
                status="succeeded",
                requested_by="key:1:ana",
                params={"adaptation_id": adaptation.id},
                result={
                    "promotion_id": 1,
                    "promoted": False,
                    "current_version": "minilm-sent-2026.11.1",
                    "candidate_version": "minilm-adapted-1",
                    "tolerance": 0.01,
                    "excluded_sets": ["corrections"],
                    "checks": [
                        {
                            "dataset": "gold",
                            "scope": "overall",
                            "key": "macro_f1",
                            "current": 0.8,
                            "candidate": 0.7,
                            "ok": False,
                        },
                        {
                            "dataset": "gold",
                            "scope": "class",
                            "key": "neutral",
                            "current": 0.7,
                            "candidate": 0.72,
                            "ok": True,
                        },
                    ],
                    "rescore": None,
                },
            )
        )
    login(app_client, role_keys[Role.ANALYST])
    page = app_client.get("/model").text
    assert "<strong>Refused</strong>" in page and "1/2 checks ok" in page
    assert "gold overall macro_f1: 80.0\u00a0% → 70.0\u00a0%" in page
    assert "/promote" not in page  # a gate already ran and ended
