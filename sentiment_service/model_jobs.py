"""Background model jobs started from the API and the dashboard: adapting the sentiment model to
people's label corrections, then gating and promoting the adapted candidate.

A request only stores a `model_jobs` row and returns; a daemon thread of the API process runs
the job. At most one model job is active at a time: the row's unique `active_slot` makes the
database refuse a second one (HTTP 409), across API processes too. While it runs, the job's
thread writes a heartbeat and the log every few seconds, so status and log are readable at any
time. A job whose heartbeat is older than the lease (the process stopped: restart, crash,
deploy) is marked failed by the next reader, which frees the slot.

Adaptation calls `models.sentiment.adapt.adapt` in the thread (it releases the GIL while it
trains, so requests are still served, slower) and writes a complete artifact under
`settings.adaptation_dir`. Promotion runs the same gate as `promote-model` (minus the
`corrections` set, which trained the candidate), and when it passes swaps the served model and
re-scores every message under the new version, switching atomically at the end (`rescore`).
"""

from __future__ import annotations

import builtins
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.backends import LABELS
from models.minilm import MiniLMBackend
from models.sentiment.preprocess import normalize_text
from pipelines.backfill import backfill
from pipelines.row_ids import stored_id
from sentiment_service import evaluations
from sentiment_service.audit import record_change
from sentiment_service.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_service.model_hub import ModelHub
from sentiment_service.promotion import DEFAULT_TOLERANCE, evaluate_candidate
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import LabelCorrection, Message, ModelJob
from sentiment_service.storage.types import utcnow

log = structlog.get_logger(__name__)

ADAPTATION = "adaptation"
PROMOTION = "promotion"
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
SLOT = "model"
LEASE_SECONDS = 120.0
HEARTBEAT_SECONDS = 5.0
MAX_LOG_CHARS = 64_000
LOG_TAIL_LINES = 40

LogFn = Callable[[str], None]


@dataclass(frozen=True)
class AdaptSpec:
    """What one adaptation job trains: the corrections, from which base, into which folder."""

    out: Path
    corrections: tuple[tuple[str, str], ...]
    base: Path | None
    epochs: int | None
    seed: int
    command: str = ""


Adapter = Callable[[AdaptSpec, LogFn], dict[str, Any]]
"""Runs an adaptation and returns its report (a JSON-able dict); raises ValueError when the
input is unusable. Tests inject a fake one."""


def core_adapter(spec: AdaptSpec, log_line: LogFn) -> dict[str, Any]:
    """The real adaptation: `models.sentiment.adapt.adapt` without a progress bar."""
    from models.sentiment.adapt import AdaptRequest, adapt

    request = AdaptRequest(
        out=spec.out,
        corrections=spec.corrections,
        base=spec.base,
        epochs=spec.epochs,
        seed=spec.seed,
        command=spec.command or None,
    )
    report = adapt(request, progress=False, log=log_line)
    return dict(report.as_dict())


def stored_corrections(session: Session) -> list[tuple[str, str]]:
    """The corrections the adaptation trains on: `sentiment_service.adaptation` when present."""
    try:
        from sentiment_service.adaptation import load_corrections
    except ImportError:  # the adaptation core is not installed: same rule, read here
        return [(text, label) for text, label, _ in _newest_corrections(session)]
    return list(load_corrections(session))


def _newest_corrections(session: Session) -> list[tuple[str, str, int]]:
    """(text, newest label, message id) of every corrected message."""
    rows = session.exec(
        select(LabelCorrection.message_id, LabelCorrection.label, Message.text)
        .join(Message, col(Message.id) == col(LabelCorrection.message_id))
        .order_by(col(LabelCorrection.id))
    ).all()
    newest: dict[int, tuple[str, str, int]] = {}
    for message_id, label, text in rows:
        newest[message_id] = (text, label, message_id)
    return list(newest.values())


@dataclass(frozen=True)
class LabelStatus:
    """How many corrected messages there are, per label, and whether adaptation may start."""

    labelled: int
    per_label: dict[str, int]
    needed: int
    ready: bool
    reason: str | None


def label_status(session: Session, needed: int) -> LabelStatus:
    """Whether the stored corrections are enough to adapt: `needed` distinct texts (as the
    adaptation counts them: the same text twice is one example), two classes."""
    newest: dict[str, str] = {}
    for text, label, _ in _newest_corrections(session):
        newest[normalize_text(text)] = label
    per_label = dict.fromkeys(LABELS, 0)
    for label in newest.values():
        per_label[label] = per_label.get(label, 0) + 1
    labelled = sum(per_label.values())
    reason = None
    if labelled < needed:
        reason = (
            f"{labelled} distinct messages are labelled; adaptation needs at least {needed} "
            f"({needed - labelled} more)"
        )
    elif sum(1 for n in per_label.values() if n) < 2:
        only = next(label for label, n in per_label.items() if n)
        reason = f"all {labelled} labelled messages are {only!r}: label at least two classes"
    return LabelStatus(labelled, per_label, needed, reason is None, reason)


class JobLog:
    """A job's log: lines in memory, capped to the newest MAX_LOG_CHARS characters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text = ""
        self._dropped = 0
        self.version = 0

    def __call__(self, line: str) -> None:
        """Append a line (progress redraws with carriage returns keep their last state)."""
        clean = str(line).replace("\x00", "").rstrip()
        clean = clean.rsplit("\r", 1)[-1]
        if not clean:
            return
        stamp = utcnow().strftime("%H:%M:%S")
        with self._lock:
            self._text += f"{stamp} {clean}\n"
            if len(self._text) > MAX_LOG_CHARS:
                cut = len(self._text) - MAX_LOG_CHARS
                cut = self._text.find("\n", cut) + 1 or cut
                self._dropped += cut
                self._text = self._text[cut:]
            self.version += 1

    def text(self) -> str:
        """The kept log, with a first line saying how much was dropped, if anything was."""
        with self._lock:
            head = f"[{self._dropped} earlier characters dropped]\n" if self._dropped else ""
            return head + self._text


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log."""
    return text.splitlines()[-lines:]


class ModelJobs:
    """Starts, runs and reports model jobs; one per app, injected (tests pass `adapter`)."""

    def __init__(
        self,
        database: Database,
        models: ModelHub,
        settings: Settings,
        *,
        adapter: Adapter = core_adapter,
        lease_seconds: float = LEASE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.database = database
        self.models = models
        self.settings = settings
        self.adapter = adapter
        self.lease = timedelta(seconds=lease_seconds)
        self.heartbeat_seconds = heartbeat_seconds
        self.runner_id = f"{socket.gethostname()}-{os.getpid()}"
        self.output_dir = settings.adaptation_dir or settings.data_dir / "models"

    # --- reading ----------------------------------------------------------------------------

    def get(self, job_id: int, kind: str | None = None) -> ModelJob:
        """One job (stale ones are marked failed first); NotFoundError when there is none."""
        self.expire_stale()
        with self.database.session() as session:
            job = session.get(ModelJob, job_id)
        if job is None or (kind is not None and job.kind != kind):
            raise NotFoundError(f"{kind or 'model'} job {job_id} does not exist", field="job_id")
        return job

    def list(self, kind: str | None = None, limit: int = 50) -> list[ModelJob]:
        """Jobs, newest first."""
        self.expire_stale()
        query = select(ModelJob).order_by(col(ModelJob.id).desc()).limit(limit)
        if kind is not None:
            query = query.where(ModelJob.kind == kind)
        with self.database.session() as session:
            return list(session.exec(query).all())

    def promotions_of(self, adaptation_ids: builtins.list[int]) -> dict[int, ModelJob]:
        """The newest promotion job of each adaptation job."""
        if not adaptation_ids:
            return {}
        with self.database.session() as session:
            rows = session.exec(
                select(ModelJob).where(ModelJob.kind == PROMOTION).order_by(col(ModelJob.id))
            ).all()
        wanted = set(adaptation_ids)
        newest: dict[int, ModelJob] = {}
        for row in rows:
            source = row.params.get("adaptation_id")
            if isinstance(source, int) and source in wanted:
                newest[source] = row
        return newest

    def labels(self) -> LabelStatus:
        """The stored corrections against the adaptation minimum."""
        with self.database.session() as session:
            return label_status(session, self.settings.adaptation_min_labels)

    def wait(self, job_id: int, timeout: float = 60.0, poll: float = 0.05) -> ModelJob:
        """Block until the job has ended (tests and scripts); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status not in ACTIVE:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"model job {job_id} still {job.status} after {timeout}s")
            time.sleep(poll)

    def expire_stale(self, now: datetime | None = None) -> builtins.list[int]:
        """Mark active jobs without a heartbeat within the lease failed; their ids."""
        now = now or utcnow()
        cutoff = now - self.lease
        expired: list[int] = []
        with self.database.session(write=True) as session:
            for job in session.exec(select(ModelJob).where(col(ModelJob.active_slot).is_not(None))):
                seen = job.heartbeat_at or job.created_at
                if seen >= cutoff:
                    continue
                job.status, job.active_slot, job.finished_at = FAILED, None, now
                job.error = (
                    f"the job stopped without finishing: its runner ({job.runner or 'none'}) "
                    f"gave no sign of life for {int((now - seen).total_seconds())} s "
                    "(the service restarted or crashed); start it again"
                )
                session.add(job)
                expired.append(job.id or 0)
        for job_id in expired:
            log.warning("model_job_expired", job_id=job_id)
        return expired

    # --- starting ---------------------------------------------------------------------------

    def start_adaptation(self, actor: str, *, epochs: int | None, seed: int) -> ModelJob:
        """Queue an adaptation on the stored corrections and start it in the background.

        InvalidInputError (422) when the corrections are too few or of one class;
        ConflictError (409) when a model job is queued or running.
        """
        status = self.labels()
        if not status.ready:
            raise InvalidInputError(str(status.reason), field="from_corrections")
        base = self._current_artifact()
        params = {
            "from_corrections": True,
            "epochs": epochs,
            "seed": seed,
            "labelled": status.labelled,
            "per_label": status.per_label,
            "base": str(base) if base is not None else None,
        }
        job = self._enqueue(ADAPTATION, params, actor)
        # The folder's name is the new model's version.
        out = self.output_dir / f"minilm-adapted-{job.created_at:%Y%m%d%H%M%S}-job{job.id}"
        spec = AdaptSpec(
            out=out,
            corrections=(),
            base=base,
            epochs=epochs,
            seed=seed,
            command=f"POST /v1/models/adaptations (model job {job.id}, by {actor})",
        )
        self._launch(job, lambda log_line: self._adapt(spec, log_line))
        return job

    def start_promotion(
        self, actor: str, adaptation_id: int, tolerance: float = DEFAULT_TOLERANCE
    ) -> ModelJob:
        """Queue the gate (and, when it passes, promotion and re-scoring) of an adapted model.

        NotFoundError (404) for an unknown adaptation; ConflictError (409) when it did not
        succeed or another model job is active; InvalidInputError (422) when no labelled set
        other than `corrections` is stored (the gate would have no independent evidence).
        """
        adaptation = self.get(adaptation_id, ADAPTATION)
        if adaptation.status != SUCCEEDED or not adaptation.result:
            raise ConflictError(
                f"adaptation job {adaptation_id} is {adaptation.status}: only a succeeded "
                "adaptation can be promoted",
                field="job_id",
            )
        artifact = Path(str(adaptation.result["artifact_dir"]))
        exclude = frozenset({evaluations.CORRECTIONS_SET})
        with self.database.session() as session:
            names = [n for n in evaluations.labelled_set_names(session) if n not in exclude]
        if not names:
            raise InvalidInputError(
                "no labelled set other than 'corrections' is stored: the corrections trained "
                "this model, so the gate needs another labelled set (POST /v1/evaluations with "
                "a name) to compare it with the current one",
                field="job_id",
            )
        params = {
            "adaptation_id": adaptation_id,
            "artifact_dir": str(artifact),
            "tolerance": tolerance,
            "excluded_sets": sorted(exclude),
        }
        job = self._enqueue(PROMOTION, params, actor)
        self._launch(
            job, lambda log_line: self._promote(artifact, tolerance, exclude, actor, log_line)
        )
        return job

    def _current_artifact(self) -> Path | None:
        """The artifact folder of the model served now (the base of an adaptation)."""
        backend = self.models.scorer().model
        return backend.model.artifact_dir if isinstance(backend, MiniLMBackend) else None

    def _enqueue(self, kind: str, params: dict[str, Any], actor: str) -> ModelJob:
        self.expire_stale()
        try:
            with self.database.session(write=True) as session:
                active = session.exec(
                    select(ModelJob).where(col(ModelJob.active_slot).is_not(None))
                ).first()
                if active is not None:
                    raise _busy(active)
                job = ModelJob(
                    kind=kind, status=QUEUED, active_slot=SLOT, requested_by=actor, params=params
                )
                session.add(job)
                session.flush()
                record_change(
                    session,
                    actor=actor,
                    action=f"model_job.{kind}",
                    entity_type="model_job",
                    entity_id=str(job.id),
                    before=None,
                    after={"kind": kind, "params": params},
                )
        except IntegrityError:  # another process took the slot between the check and insert
            raise ConflictError(
                "another model job was started at the same moment", field="job"
            ) from None
        return job

    # --- running ----------------------------------------------------------------------------

    def _launch(self, job: ModelJob, work: Callable[[LogFn], dict[str, Any]]) -> None:
        job_id = stored_id(job.id, "model job")
        thread = threading.Thread(
            target=self._execute, args=(job_id, work), name=f"model-job-{job_id}", daemon=True
        )
        thread.start()

    def _execute(self, job_id: int, work: Callable[[LogFn], dict[str, Any]]) -> None:
        """Run `work` with a heartbeat; store its result or its one-line error."""
        job_log = JobLog()
        with self.database.session(write=True) as session:
            job = session.get(ModelJob, job_id)
            if job is None or job.status != QUEUED:
                return
            job.status, job.runner = RUNNING, self.runner_id
            job.started_at = job.heartbeat_at = utcnow()
            session.add(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, job_log, stop), daemon=True)
        beat.start()
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = work(job_log)
        except Exception as problem:  # every failure ends the job with its reason
            error = _one_line(problem)
            job_log(f"failed: {error}")
            log.warning("model_job_failed", job_id=job_id, error=error)
        finally:
            stop.set()
            beat.join()
        self._finish(job_id, job_log, result, error)

    def _heartbeat(self, job_id: int, job_log: JobLog, stop: threading.Event) -> None:
        written = -1
        while not stop.wait(self.heartbeat_seconds):
            try:
                with self.database.session(write=True) as session:
                    job = session.get(ModelJob, job_id)
                    if job is None or job.status != RUNNING:
                        return
                    job.heartbeat_at = utcnow()
                    if job_log.version != written:
                        written, job.log = job_log.version, job_log.text()
                    session.add(job)
            except Exception as problem:  # a database hiccup: try again at the next beat
                log.warning("model_job_heartbeat_failed", job_id=job_id, error=str(problem))

    def _finish(
        self, job_id: int, job_log: JobLog, result: dict[str, Any] | None, error: str | None
    ) -> None:
        with self.database.session(write=True) as session:
            job = session.get(ModelJob, job_id)
            if job is None or job.status != RUNNING:  # expired meanwhile: keep that verdict
                return
            job.status = FAILED if error is not None else SUCCEEDED
            job.result, job.error = result, error
            job.finished_at = job.heartbeat_at = utcnow()
            job.active_slot = None
            job.log = job_log.text()
            session.add(job)

    # --- the two kinds of work --------------------------------------------------------------

    def _adapt(self, spec: AdaptSpec, log_line: LogFn) -> dict[str, Any]:
        with self.database.session() as session:
            corrections = tuple(stored_corrections(session))
        base = spec.base or "the shipped model"
        log_line(f"adapting {base} on {len(corrections)} corrections")
        spec.out.parent.mkdir(parents=True, exist_ok=True)
        report = self.adapter(replace(spec, corrections=corrections), log_line)
        version = MiniLMBackend(spec.out).version  # loads and verifies the checksums
        log_line(f"wrote {version} to {spec.out}")
        return {"artifact_dir": str(spec.out), "model_version": version, "report": report}

    def _promote(
        self,
        artifact: Path,
        tolerance: float,
        exclude: frozenset[str],
        actor: str,
        log_line: LogFn,
    ) -> dict[str, Any]:
        current = self.models.scorer()
        log_line(f"gate: comparing {artifact.name} with {current.version} on stored sets")
        promotion, candidate = evaluate_candidate(
            self.database, current, artifact, tolerance=tolerance, actor=actor, exclude=exclude
        )
        checks = list(promotion.comparison["checks"])
        failed = [c for c in checks if not c["ok"]]
        log_line(
            f"gate: {'passed' if promotion.promoted else 'refused'} "
            f"({len(checks) - len(failed)}/{len(checks)} checks ok)"
        )
        with self.database.session(write=True) as session:
            record_change(
                session,
                actor=actor,
                action="model.promote" if promotion.promoted else "model.promotion_refused",
                entity_type="model",
                entity_id=promotion.candidate_version,
                before={"version": promotion.current_version},
                after={"version": promotion.candidate_version, "promoted": promotion.promoted},
            )
        result: dict[str, Any] = {
            "promotion_id": promotion.id,
            "promoted": promotion.promoted,
            "current_version": promotion.current_version,
            "candidate_version": promotion.candidate_version,
            "tolerance": tolerance,
            "excluded_sets": sorted(exclude),
            "checks": checks,
            "rescore": None,
        }
        if not promotion.promoted:
            return result
        self.models.swap(candidate)
        log_line(f"serving {candidate.version}; re-scoring every message")
        counter = _Progress(log_line, "re-scored")
        summary = backfill(self.database, candidate, progress=counter)
        log_line(
            f"re-scored {summary.scored} messages ({summary.skipped} skipped); "
            f"switched: {summary.switched}"
        )
        result["rescore"] = asdict(summary)
        return result


class _Progress:
    """A backfill progress callback that logs a line every 10 % or so."""

    def __init__(self, log_line: LogFn, what: str, every: int = 500) -> None:
        self.log_line, self.what, self.every = log_line, what, every
        self.done, self.next = 0, every

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done >= self.next:
            self.log_line(f"{self.what} {self.done} messages")
            self.next = self.done + self.every


def _busy(active: ModelJob) -> ConflictError:
    return ConflictError(
        f"model job {active.id} ({active.kind}) is {active.status}: wait until it ends",
        field="job",
    )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:2000]
