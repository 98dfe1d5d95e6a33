"""Model adaptation from the API: the labelling queue, background adaptation jobs (with an
injected fake adapter, so no training runs here), the gate + promotion job with the real gate
and re-scoring, role checks, 409/422 cases and stale jobs."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from models.sentiment.inference import DEFAULT_VERSION, default_artifact_dir
from pipelines.queue import set_active_version
from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.model_jobs import AdaptSpec, LogFn, ModelJobs
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    AuditLogEntry,
    LabelCorrection,
    Message,
    MessageScore,
    ModelJob,
)
from sentiment_service.storage.types import utcnow
from sentiment_service.vocabulary import Role
from tests.api.test_promotions import _upload
from tests.conftest import auth

VERSION = "minilm-test.0"
LABELS = ("negative", "neutral", "positive")


def seed(
    database: Database,
    rows: list[tuple[str, str, str, tuple[float, float, float]]],
    *,
    label: list[str | None] | None = None,
) -> list[int]:
    """Store messages (text, account, source, probabilities) scored under VERSION, with a
    correction where `label` names one; their ids in order."""
    ids: list[int] = []
    with database.session(write=True) as session:
        start = len(session.exec(select(Message.id)).all())
        for account in sorted({row[1] for row in rows}):
            if session.get(Account, account) is None:
                session.add(Account(id=account, name=account.title()))
        session.flush()
        for index, (text, account, source, probabilities) in enumerate(rows):
            message = Message(
                source=source,
                source_system="test",
                external_id=f"m-{start + index}",
                account_id=account,
                author_role="customer",
                text=text,
                content_hash=f"h{start + index}",
            )
            session.add(message)
            session.flush()
            assert message.id is not None
            ids.append(message.id)
            p = dict(zip(LABELS, probabilities, strict=True))
            session.add(
                MessageScore(
                    message_id=message.id,
                    model_version=VERSION,
                    status="scored",
                    label=max(p, key=lambda k: p[k]),
                    score=p["positive"] - p["negative"],
                    p_negative=p["negative"],
                    p_neutral=p["neutral"],
                    p_positive=p["positive"],
                )
            )
            chosen = label[index] if label else None
            if chosen is not None:
                session.add(
                    LabelCorrection(message_id=message.id, label=chosen, corrected_by="test")
                )
        set_active_version(session, VERSION)
    return ids


def labelled_rows(n: int, classes: tuple[str, ...] = LABELS) -> tuple[list[Any], list[Any]]:
    """`n` distinct messages, each labelled (cycling through `classes`)."""
    words = ["invoice", "export", "renewal", "outage", "login", "report", "seats", "billing"]
    rows = [
        (
            f"Message {i}: the {words[i % 8]} {words[(i // 8) % 8]} topic number {i}",
            f"acct-{i % 4}",
            "ticket",
            (0.5, 0.3, 0.2),
        )
        for i in range(n)
    ]
    return rows, [classes[i % len(classes)] for i in range(n)]


def copy_model(target: Path, version: str, labels: list[str] | None = None) -> None:
    """The shipped model as a stand-in adapted artifact at `target`."""
    shutil.copytree(default_artifact_dir(), target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    if labels is not None:
        manifest["labels"] = labels
    (target / "manifest.json").write_text(json.dumps(manifest))


class FakeAdapter:
    """Stands in for `models.sentiment.adapt.adapt`: logs, optionally waits, then writes a
    copy of the shipped model (or fails)."""

    def __init__(
        self,
        *,
        fail: str | None = None,
        hold: threading.Event | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self.fail, self.hold, self.labels = fail, hold, labels
        self.specs: list[AdaptSpec] = []

    def __call__(self, spec: AdaptSpec, log_line: LogFn) -> dict[str, Any]:
        self.specs.append(spec)
        log_line("epoch 1/2 \rstep 5/10\rstep 10/10")
        if self.hold is not None:
            assert self.hold.wait(30)
        if self.fail:
            raise ValueError(self.fail)
        copy_model(spec.out, f"minilm-adapted.{len(self.specs)}", self.labels)
        log_line("epoch 2/2 done")
        return {  # the shape of models.sentiment.adapt.AdaptReport.as_dict()
            "out": str(spec.out),
            "version": spec.out.name,
            "base_version": "minilm-sent-2026.11.1",
            "epochs": 1.5,
            "interpolation": 0.75,
            "seconds": 1.5,
            "sizes": {
                "new_train": len(spec.corrections) - 6,
                "new_heldout": 6,
                "replay": 600,
                "base_validation": 400,
            },
            "metrics": {
                "heldout_new": {
                    "before": {"n": 6, "macro_f1": 0.5, "per_source": {"new": {"n": 6}}},
                    "after": {"n": 6, "macro_f1": 0.75},
                },
                "base_validation": {"before": {"macro_f1": 0.77}, "after": {"macro_f1": 0.76}},
            },
        }


def use_adapter(client: TestClient, adapter: FakeAdapter) -> ModelJobs:
    """Swap the app's job runner for one with `adapter` and a quick heartbeat."""
    state = client.app.state  # type: ignore[attr-defined]
    jobs = ModelJobs(
        state.database, state.models, state.settings, adapter=adapter, heartbeat_seconds=0.05
    )
    state.model_jobs = jobs
    return jobs


def start_and_finish(client: TestClient, headers: dict[str, str]) -> None:
    """Start an adaptation (the slot is free: 202) and wait for it, so that no job thread
    outlives its test and writes into the next one's database."""
    started = client.post("/v1/models/adaptations", json={}, headers=headers)
    assert started.status_code == 202, started.text
    jobs: ModelJobs = client.app.state.model_jobs  # type: ignore[attr-defined]
    assert jobs.wait(started.json()["id"]).status == "succeeded"


@pytest.fixture
def own_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """An app with its own models (a promotion swaps them) and min 30 labels."""
    with TestClient(create_app(settings, database, ModelHub())) as test_client:
        yield test_client


# --- roles, 422, 409 ------------------------------------------------------------------------


def test_viewers_and_ingest_keys_are_refused_analysts_and_admins_allowed(
    client: TestClient, keys: dict[Role, str]
) -> None:
    calls = [
        ("GET", "/v1/models/labelling-queue", None),
        ("GET", "/v1/models/adaptations", None),
        ("GET", "/v1/models/adaptations/1", None),
        ("POST", "/v1/models/adaptations", {"seed": 1}),
        ("POST", "/v1/models/adaptations/1/promote", {}),
    ]
    for method, path, body in calls:
        for role in (Role.VIEWER, Role.INGEST):
            response = client.request(method, path, json=body, headers=auth(keys[role]))
            assert response.status_code == 403, (method, path, role)
            assert "evaluate" in response.json()["detail"]
        for role in (Role.ANALYST, Role.ADMIN):
            response = client.request(method, path, json=body, headers=auth(keys[role]))
            assert response.status_code not in (401, 403), (method, path, role)
    assert client.get("/v1/models/adaptations").status_code == 401


def test_too_few_labels_is_a_422_naming_the_count(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    analyst = auth(keys[Role.ANALYST])
    none = client.post("/v1/models/adaptations", json={}, headers=analyst)
    assert none.status_code == 422
    assert "0 distinct messages are labelled; adaptation needs at least 30" in none.json()["detail"]
    rows, labels = labelled_rows(29)
    seed(database, rows, label=labels)
    with database.session() as session:  # a second correction of one message counts once
        first = session.exec(select(LabelCorrection)).first()
        assert first is not None
        session.add(LabelCorrection(message_id=first.message_id, label="neutral", corrected_by="t"))
    response = client.post("/v1/models/adaptations", json={"epochs": 1}, headers=analyst)
    assert response.status_code == 422
    problem = response.json()
    assert (
        "29 distinct messages are labelled; adaptation needs at least 30 (1 more)"
        in problem["detail"]
    )
    assert problem["errors"][0]["field"] == "from_corrections"
    queue = client.get("/v1/models/labelling-queue", headers=analyst).json()
    assert queue["labels"] == {
        "labelled": 29,
        "per_label": {"negative": 9, "neutral": 11, "positive": 9},
        "needed": 30,
        "ready": False,
        "reason": "29 distinct messages are labelled; adaptation needs at least 30 (1 more)",
    }
    with database.session() as session:
        assert session.exec(select(ModelJob)).first() is None


def test_labels_of_a_single_class_and_bad_bodies_are_422(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30, ("negative",))
    seed(database, rows, label=labels)
    analyst = auth(keys[Role.ANALYST])
    single = client.post("/v1/models/adaptations", json={}, headers=analyst)
    assert single.status_code == 422
    assert "all 30 labelled messages are 'negative'" in single.json()["detail"]
    for body, field in [
        ({"from_corrections": False}, "from_corrections"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": "many"}, "epochs"),
        ({"seed": -1}, "seed"),
    ]:
        response = client.post("/v1/models/adaptations", json=body, headers=analyst)
        assert response.status_code == 422, body
        assert field in json.dumps(response.json()["errors"]), body
    assert client.get("/v1/models/adaptations/0", headers=analyst).status_code == 422
    missing = client.get("/v1/models/adaptations/424242", headers=analyst)
    assert missing.status_code == 404 and "424242" in missing.json()["detail"]


def test_a_running_job_blocks_a_second_one_with_409_and_its_log_is_readable(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    hold = threading.Event()
    adapter = FakeAdapter(hold=hold)
    jobs = use_adapter(client, adapter)
    analyst, admin = auth(keys[Role.ANALYST]), auth(keys[Role.ADMIN])
    try:
        started = client.post("/v1/models/adaptations", json={"seed": 7}, headers=analyst)
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["status"] in ("queued", "running") and job["seed"] == 7
        assert job["labelled"] == 30 and job["report"] is None
        again = client.post("/v1/models/adaptations", json={}, headers=admin)
        assert again.status_code == 409
        assert f"model job {job['id']} (adaptation) is" in again.json()["detail"]
        early = client.post(f"/v1/models/adaptations/{job['id']}/promote", headers=admin)
        assert early.status_code == 409 and "only a succeeded" in early.json()["detail"]
        deadline = time.monotonic() + 10
        while True:  # the heartbeat writes the log while the job runs
            detail = client.get(f"/v1/models/adaptations/{job['id']}", headers=analyst).json()
            if detail["status"] == "running" and "step 10/10" in detail["log"]:
                break
            assert time.monotonic() < deadline, detail
            time.sleep(0.05)
        assert detail["progress"].endswith("step 10/10") and detail["heartbeat_at"] is not None
        assert "step 5/10" not in detail["log"]  # carriage-return redraws keep the last state
    finally:
        hold.set()
    done = jobs.wait(job["id"])
    assert done.status == "succeeded" and done.active_slot is None
    start_and_finish(client, analyst)


# --- job runs -------------------------------------------------------------------------------


def test_a_successful_adaptation_trains_on_the_corrections_and_reports(
    client: TestClient, keys: dict[Role, str], database: Database, settings: Settings
) -> None:
    rows, labels = labelled_rows(32)
    ids = seed(database, rows, label=labels)
    with database.session() as session:  # the newest label of a message is the one used
        session.add(LabelCorrection(message_id=ids[0], label="positive", corrected_by="t"))
    adapter = FakeAdapter()
    jobs = use_adapter(client, adapter)
    analyst = auth(keys[Role.ANALYST])
    job_id = client.post(
        "/v1/models/adaptations", json={"epochs": 3, "seed": 5}, headers=analyst
    ).json()["id"]
    assert jobs.wait(job_id).status == "succeeded"
    (spec,) = adapter.specs
    assert spec.epochs == 3 and spec.seed == 5
    assert spec.base == default_artifact_dir()
    assert spec.out.parent == settings.data_dir / "models"
    assert len(spec.corrections) == 32
    assert (rows[0][0], "positive") in spec.corrections
    assert (rows[1][0], labels[1]) in spec.corrections
    detail = client.get(f"/v1/models/adaptations/{job_id}", headers=analyst).json()
    assert detail["status"] == "succeeded" and detail["error"] is None
    assert detail["requested_by"].startswith("key:") and detail["requested_by"].endswith(
        ":test-analyst"
    )
    report = detail["report"]
    assert report["model_version"] == "minilm-adapted.1"
    assert report["artifact_dir"] == str(spec.out)
    assert report["train_examples"] == 26 and report["validation_examples"] == 6
    assert report["replay_examples"] == 600 and report["base_validation_examples"] == 400
    assert report["epochs"] == 1.5 and report["interpolation"] == 0.75
    assert report["base_version"] == "minilm-sent-2026.11.1"
    assert sorted(
        (m["dataset"], m["metric"], m["before"], m["after"]) for m in report["metrics"]
    ) == [
        ("base_validation", "macro_f1", 0.77, 0.76),
        ("heldout_new", "macro_f1", 0.5, 0.75),
        ("heldout_new", "n", 6.0, 6.0),
    ]
    assert spec.command.startswith(f"POST /v1/models/adaptations (model job {job_id}, by key:")
    assert spec.out.name.startswith("minilm-adapted-") and spec.out.name.endswith(f"-job{job_id}")
    assert "adapting" in detail["log"] and "wrote minilm-adapted.1" in detail["log"]
    assert detail["promotion"] is None
    listed = client.get("/v1/models/adaptations", headers=analyst).json()
    assert [j["id"] for j in listed] == [job_id] and "log" not in listed[0]
    with database.session() as session:
        audit = session.exec(
            select(AuditLogEntry).where(AuditLogEntry.entity_type == "model_job")
        ).all()
    assert [a.action for a in audit] == ["model_job.adaptation"]


def test_a_failing_adaptation_is_failed_with_a_one_line_error_and_frees_the_slot(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    jobs = use_adapter(client, FakeAdapter(fail="label column has unknown labels:\n'angry'"))
    analyst = auth(keys[Role.ANALYST])
    job_id = client.post("/v1/models/adaptations", json={}, headers=analyst).json()["id"]
    assert jobs.wait(job_id).status == "failed"
    detail = client.get(f"/v1/models/adaptations/{job_id}", headers=analyst).json()
    assert detail["error"] == "label column has unknown labels: 'angry'"
    assert detail["report"] is None and detail["finished_at"] is not None
    assert "failed: label column" in detail["log"]
    promote = client.post(f"/v1/models/adaptations/{job_id}/promote", headers=analyst)
    assert promote.status_code == 409 and "is failed" in promote.json()["detail"]
    use_adapter(client, FakeAdapter())
    start_and_finish(client, analyst)


def test_an_artifact_that_does_not_load_fails_the_job(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)

    def broken(spec: AdaptSpec, log_line: LogFn) -> dict[str, Any]:
        spec.out.mkdir(parents=True)
        (spec.out / "manifest.json").write_text("{}")
        return {}

    jobs = use_adapter(client, FakeAdapter())
    jobs.adapter = broken
    job_id = client.post("/v1/models/adaptations", json={}, headers=auth(keys[Role.ADMIN])).json()[
        "id"
    ]
    job = jobs.wait(job_id)
    assert job.status == "failed" and job.error and "\n" not in job.error


def test_a_job_whose_runner_died_is_marked_failed_and_frees_the_slot(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    with database.session() as session:
        stale = ModelJob(
            kind="adaptation",
            status="running",
            active_slot="model",
            requested_by="t",
            params={"seed": 13, "labelled": 30},
            created_at=utcnow() - timedelta(minutes=30),
            heartbeat_at=utcnow() - timedelta(minutes=10),
            runner="gone-1",
        )
        session.add(stale)
    analyst = auth(keys[Role.ANALYST])
    listed = client.get("/v1/models/adaptations", headers=analyst).json()
    old = next(j for j in listed if j["id"] == stale.id)
    assert old["status"] == "failed"
    assert re.search(r"runner \(gone-1\) gave no sign of life for 60\d s", old["error"])
    with database.session() as session:
        assert session.get(ModelJob, stale.id).active_slot is None  # type: ignore[union-attr]
    use_adapter(client, FakeAdapter())
    start_and_finish(client, analyst)


# --- gate and promotion ---------------------------------------------------------------------


def test_promotion_gates_then_serves_and_rescores_or_refuses(
    own_client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    client = own_client
    rows, labels = labelled_rows(30)
    seed(database, rows, label=labels)
    analyst, admin = auth(keys[Role.ANALYST]), auth(keys[Role.ADMIN])
    current = client.get("/v1/models", headers=analyst).json()[0]["version"]

    worse = use_adapter(client, FakeAdapter(labels=["positive", "neutral", "negative"]))
    bad_id = client.post("/v1/models/adaptations", json={}, headers=analyst).json()["id"]
    assert worse.wait(bad_id, timeout=300).status == "succeeded"
    no_evidence = client.post(f"/v1/models/adaptations/{bad_id}/promote", headers=analyst)
    assert no_evidence.status_code == 422
    assert "no labelled set other than 'corrections'" in no_evidence.json()["detail"]

    _upload(client, analyst)  # an independent labelled set: the gate's evidence
    started = client.post(
        f"/v1/models/adaptations/{bad_id}/promote", json={"tolerance": 0.0}, headers=analyst
    )
    assert started.status_code == 202, started.text
    assert started.json()["promotion"]["status"] in ("queued", "running")
    promotion_id = started.json()["promotion"]["id"]
    assert worse.wait(promotion_id, timeout=600).status == "succeeded"
    refused = client.get(f"/v1/models/adaptations/{bad_id}", headers=analyst).json()
    verdict = refused["promotion"]["verdict"]
    assert verdict["promoted"] is False and verdict["excluded_sets"] == ["corrections"]
    assert {c["dataset"] for c in verdict["checks"]} == {"gold"}
    failed = {(c["scope"], c["key"]) for c in verdict["checks"] if not c["ok"]}
    assert ("overall", "macro_f1") in failed
    assert verdict["rescore"] is None
    assert client.get("/v1/models", headers=analyst).json()[0]["version"] == current

    good = use_adapter(client, FakeAdapter())
    good_id = client.post("/v1/models/adaptations", json={}, headers=admin).json()["id"]
    assert good.wait(good_id, timeout=300).status == "succeeded"
    promotion_id = client.post(f"/v1/models/adaptations/{good_id}/promote", headers=admin).json()[
        "promotion"
    ]["id"]
    assert good.wait(promotion_id, timeout=600).status == "succeeded"
    detail = client.get(f"/v1/models/adaptations/{good_id}", headers=admin).json()
    verdict = detail["promotion"]["verdict"]
    assert verdict["promoted"] is True and verdict["current_version"] == current
    assert verdict["candidate_version"] == "minilm-adapted.1"
    rescore = verdict["rescore"]
    assert rescore["model_version"] == "minilm-adapted.1" and rescore["switched"] is True
    assert rescore["scored"] + rescore["skipped"] == 30
    assert "re-scored 30 messages" in "\n".join(detail["promotion"]["log_tail"])
    assert client.get("/v1/models", headers=admin).json()[0]["version"] == "minilm-adapted.1"
    queue = client.get("/v1/models/labelling-queue", headers=admin).json()
    assert queue["model_version"] == "minilm-adapted.1"  # the switch happened
    listed = client.get("/v1/models/adaptations", headers=admin).json()
    assert [(j["id"], j["promotion"]["verdict"]["promoted"]) for j in listed] == [
        (good_id, True),
        (bad_id, False),
    ]
    with database.session() as session:
        actions = session.exec(
            select(AuditLogEntry.action)
            .where(AuditLogEntry.entity_type == "model")
            .order_by(AuditLogEntry.id)  # type: ignore[arg-type]
        ).all()
    assert actions == ["model.promotion_refused", "model.promote"]


# --- labelling queue ------------------------------------------------------------------------


def test_queue_is_ordered_by_margin_and_leaves_out_labelled_and_flagged_messages(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    rows = [
        ("Renewal is on hold until legal signs off.", "a1", "csm_note", (0.40, 0.45, 0.15)),
        ("Great export, but the invoices are late again.", "a2", "ticket", (0.34, 0.33, 0.33)),
        ("Thanks for the quick reply!", "a3", "chat", (0.05, 0.15, 0.80)),
        ("Please update our billing contact.", "a4", "survey", (0.10, 0.60, 0.30)),
        ("We might look at other vendors.", "a5", "social", (0.48, 0.50, 0.02)),
        ("Already labelled by an analyst.", "a6", "ticket", (0.33, 0.34, 0.33)),
    ]
    ids = seed(database, rows, label=[None, None, None, None, None, "neutral"])
    with database.session() as session:
        flagged = Message(
            source="ticket",
            source_system="test",
            external_id="dup",
            account_id="a1",
            author_role="agent",
            text="A canned reply.",
            content_hash="dup",
            duplicate_of=ids[0],
        )
        session.add(flagged)
        session.flush()
        session.add(
            MessageScore(
                message_id=flagged.id or 0,
                model_version=VERSION,
                status="scored",
                label="neutral",
                p_negative=0.33,
                p_neutral=0.34,
                p_positive=0.33,
            )
        )
    response = client.get("/v1/models/labelling-queue?limit=10", headers=auth(keys[Role.ANALYST]))
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == VERSION
    # margins: 0.01, 0.02, 0.05, 0.30, 0.65
    assert [item["message_id"] for item in body["items"]] == [
        ids[1],
        ids[4],
        ids[0],
        ids[3],
        ids[2],
    ]
    assert [item["margin"] for item in body["items"]] == pytest.approx(
        [0.01, 0.02, 0.05, 0.3, 0.65]
    )
    first = body["items"][0]
    assert first["probabilities"] == pytest.approx(
        {"negative": 0.34, "neutral": 0.33, "positive": 0.33}
    )
    assert first["label"] == "negative" and first["account_id"] == "a2"
    limited = client.get("/v1/models/labelling-queue?limit=2", headers=auth(keys[Role.ADMIN]))
    assert [item["message_id"] for item in limited.json()["items"]] == [ids[1], ids[4]]
    for bad in ("0", "201", "x"):
        refused = client.get(
            f"/v1/models/labelling-queue?limit={bad}", headers=auth(keys[Role.ADMIN])
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "limit"


def test_queue_skips_near_identical_texts_and_spreads_over_accounts_and_sources(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    noisy = [  # one account, one source, the smallest margins, two near-duplicates
        (
            "Still waiting on ticket 4411 about the broken export.",
            "noisy",
            "ticket",
            (0.45, 0.46, 0.09),
        ),
        (
            "Still waiting on ticket 5123 about the broken EXPORT!",
            "noisy",
            "ticket",
            (0.45, 0.455, 0.095),
        ),
        ("The dashboard loads slowly on Mondays.", "noisy", "ticket", (0.44, 0.47, 0.09)),
        ("Our admin cannot find the audit log.", "noisy", "ticket", (0.43, 0.47, 0.10)),
        ("The SSO setup took us two days.", "noisy", "ticket", (0.42, 0.47, 0.11)),
    ]
    others = [
        ("Budget review next quarter may cut seats.", "calm-1", "csm_note", (0.40, 0.50, 0.10)),
        ("Nice webinar, some parts were too basic.", "calm-2", "survey", (0.20, 0.38, 0.42)),
    ]
    ids = seed(database, noisy + others)
    body = client.get("/v1/models/labelling-queue?limit=5", headers=auth(keys[Role.ANALYST])).json()
    picked = [item["message_id"] for item in body["items"]]
    assert ids[0] not in picked  # near-identical to ids[1] (numbers, case, punctuation)
    # Margins 0.005 (ids[1]), 0.01, 0.03, 0.04, 0.05 for the noisy account's tickets, 0.10 and
    # 0.04 for the others; each earlier pick of the same account adds 0.1 and of the same
    # source 0.05, so the other accounts come in before the noisy account's next tickets.
    assert picked == [ids[1], ids[6], ids[5], ids[2], ids[3]]
    assert sum(1 for item in body["items"] if item["account_id"] == "noisy") == 3
    assert len(picked) == len(set(picked)) == 5


def test_queue_is_empty_before_anything_is_scored(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = client.get("/v1/models/labelling-queue", headers=auth(keys[Role.ANALYST])).json()
    assert body["model_version"] is None and body["items"] == []
    assert body["labels"]["labelled"] == 0 and body["labels"]["needed"] == 30


# --- GET /v1/models -------------------------------------------------------------------------


def test_models_list_the_data_licence_and_the_evaluation_history(
    own_client: TestClient, keys: dict[Role, str]
) -> None:
    viewer = auth(keys[Role.VIEWER])
    before = own_client.get("/v1/models", headers=viewer).json()[0]
    assert before["name"] == "minilm" and before["evaluations"] == []
    assert "non-commercial" in before["data_licence"]
    _upload(own_client, auth(keys[Role.ANALYST]))
    own_client.post(
        "/v1/evaluations",
        data={"model": ["minilm"], "labelled_set": "gold"},
        headers=auth(keys[Role.ANALYST]),
    )
    history = own_client.get("/v1/models", headers=viewer).json()[0]["evaluations"]
    assert [(h["dataset_name"], h["model_version"], h["n"]) for h in history] == [
        ("gold", before["version"], 6)
    ]
    assert 0.0 <= history[0]["macro_f1"] <= 1.0


@pytest.mark.slow
def test_real_adaptation_writes_a_verified_artifact_and_the_gate_judges_it(
    own_client: TestClient, keys: dict[Role, str], database: Database, settings: Settings
) -> None:
    """End to end with `models.sentiment.adapt` (about half a minute on 2 cores; SQLite only:
    the job machinery is the same on PostgreSQL and covered above)."""
    if database.engine.dialect.name != "sqlite":
        pytest.skip("one real training run is enough")
    client = own_client
    rows, labels = labelled_rows(40)
    seed(database, rows, label=labels)
    analyst = auth(keys[Role.ANALYST])
    started = client.post("/v1/models/adaptations", json={"epochs": 1, "seed": 3}, headers=analyst)
    assert started.status_code == 202, started.text
    jobs: ModelJobs = client.app.state.model_jobs  # type: ignore[attr-defined]
    job = jobs.wait(started.json()["id"], timeout=600)
    assert job.status == "succeeded", job.error
    detail = client.get(f"/v1/models/adaptations/{job.id}", headers=analyst).json()
    report = detail["report"]
    artifact = Path(report["artifact_dir"])
    assert artifact.parent == settings.data_dir / "models"
    assert report["model_version"] == artifact.name
    assert report["train_examples"] + report["validation_examples"] == 40
    assert any(
        m["dataset"] == "heldout_new" and m["metric"] == "macro_f1" for m in report["metrics"]
    )
    assert "[adapt] wrote" in detail["log"]
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["version"] == artifact.name
    assert "model job" in json.dumps(manifest)  # the command names the job
    _upload(client, analyst)
    promotion = client.post(f"/v1/models/adaptations/{job.id}/promote", headers=analyst).json()
    assert jobs.wait(promotion["promotion"]["id"], timeout=300).status == "succeeded"
    verdict = client.get(f"/v1/models/adaptations/{job.id}", headers=analyst).json()["promotion"][
        "verdict"
    ]
    assert verdict["candidate_version"] == artifact.name
    assert {c["dataset"] for c in verdict["checks"]} == {"gold"}
    assert verdict["promoted"] == all(c["ok"] for c in verdict["checks"])
    served = client.get("/v1/models", headers=analyst).json()[0]["version"]
    assert served == (artifact.name if verdict["promoted"] else DEFAULT_VERSION)
