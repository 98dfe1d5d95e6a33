"""Stored labelled sets and evaluation runs: analysts follow accuracy across model versions.

A labelled set is either uploaded (texts are PII-redacted before storage) or the built-in
`corrections` set: the newest sentiment label people gave each corrected message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from evaluation.datasets import EvalDataset, detect_mode
from evaluation.runner import EvaluationResult
from models.backends import LABELS
from pipelines.redaction import PiiRedactor
from pipelines.row_ids import stored_id
from sentiment_service.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_service.storage.tables import (
    EvaluationItem,
    EvaluationRun,
    LabelCorrection,
    LabelledItem,
    LabelledSet,
    Message,
)
from sentiment_service.text_rules import strip_nul

CORRECTIONS_SET = "corrections"


def redact_dataset(dataset: EvalDataset, redactor: PiiRedactor | None) -> EvalDataset:
    """The dataset with PII redacted from its texts, as stored messages are."""
    texts = [strip_nul(text) for text in dataset.texts]
    if redactor is not None:
        texts = [redactor.redact(text).text for text in texts]
    sources = [strip_nul(s) for s in dataset.sources] if dataset.sources else dataset.sources
    return replace(dataset, texts=texts, sources=sources)


def store_labelled_set(
    session: Session, name: str, dataset: EvalDataset, *, actor: str
) -> LabelledSet:
    """Keep an uploaded (already redacted) labelled file under `name` (names are unique)."""
    if name == CORRECTIONS_SET:
        raise InvalidInputError(f"'{CORRECTIONS_SET}' is reserved", field="name")
    if session.exec(select(LabelledSet).where(LabelledSet.name == name)).first() is not None:
        raise ConflictError(f"a labelled set named {name!r} exists already", field="name")
    labelled = LabelledSet(
        name=name, sha256=dataset.sha256, n=len(dataset), mode=dataset.mode, created_by=actor
    )
    session.add(labelled)
    session.flush()
    set_id = stored_id(labelled.id, "labelled set")
    sources: Sequence[str | None] = dataset.sources or [None] * len(dataset)
    for position, (text, label, source) in enumerate(
        zip(dataset.texts, dataset.labels, sources, strict=True)
    ):
        session.add(
            LabelledItem(
                set_id=set_id,
                position=position,
                text=text,
                label=LABELS[int(label)],
                source=source,
            )
        )
    return labelled


def _dataset(
    name: str, texts: list[str], labels: list[str], sources: list[str | None], digest: str
) -> EvalDataset:
    if not texts:
        raise InvalidInputError(f"labelled set {name!r} is empty", field="labelled_set")
    ids = np.array([LABELS.index(label) for label in labels], dtype=int)
    has_sources = any(source is not None for source in sources)
    return EvalDataset(
        path=Path(f"labelled-set/{name}"),
        texts=texts,
        labels=ids,
        sources=[source or "(missing)" for source in sources] if has_sources else None,
        sha256=digest,
        mode=detect_mode(ids),
    )


def load_labelled_set(session: Session, name: str) -> EvalDataset:
    """A stored set (or the corrections set) as an evaluation dataset."""
    if name == CORRECTIONS_SET:
        return corrections_dataset(session)
    labelled = session.exec(select(LabelledSet).where(LabelledSet.name == name)).first()
    if labelled is None:
        raise NotFoundError(f"no labelled set named {name!r}", field="labelled_set")
    items = session.exec(
        select(LabelledItem)
        .where(LabelledItem.set_id == labelled.id)
        .order_by(col(LabelledItem.position))
    ).all()
    return _dataset(
        name,
        [i.text for i in items],
        [i.label for i in items],
        [i.source for i in items],
        labelled.sha256,
    )


def corrections_dataset(session: Session) -> EvalDataset:
    """Corrected messages with their newest human label, the message text and source."""
    rows = session.exec(
        select(LabelCorrection, Message)
        .join(Message, col(Message.id) == col(LabelCorrection.message_id))
        .order_by(col(LabelCorrection.message_id), col(LabelCorrection.id))
    ).all()
    newest: dict[int, tuple[LabelCorrection, Message]] = {}
    for correction, message in rows:
        newest[correction.message_id] = (correction, message)
    pairs = list(newest.values())
    digest = f"corrections-{max((c.id or 0) for c, _ in pairs) if pairs else 0}-{len(pairs)}"
    return _dataset(
        CORRECTIONS_SET,
        [m.text for _, m in pairs],
        [c.label for c, _ in pairs],
        [m.source for _, m in pairs],
        digest,
    )


def stored_labelled_sets(session: Session) -> list[LabelledSet]:
    """The uploaded labelled sets, oldest first (without the built-in `corrections`)."""
    return list(session.exec(select(LabelledSet).order_by(col(LabelledSet.id))).all())


def labelled_set_names(session: Session) -> list[str]:
    """Stored set names, plus `corrections` when there are any."""
    names = list(session.exec(select(LabelledSet.name).order_by(col(LabelledSet.id))).all())
    if session.exec(select(LabelCorrection.id)).first() is not None:
        names.append(CORRECTIONS_SET)
    return names


def store_run(
    session: Session,
    result: EvaluationResult,
    *,
    dataset_name: str,
    report_html: str | None,
    actor: str,
) -> EvaluationRun:
    """Keep an evaluation run with its per-item predictions."""
    summary: dict[str, Any] = result.summary
    run = EvaluationRun(
        model_name=str(summary["model"]),
        model_version=str(summary["model_version"]),
        dataset_name=dataset_name,
        dataset_sha256=str(summary["dataset_sha256"]),
        n=int(summary["n"]),
        mode=str(summary["mode"]),
        summary=summary,
        report_html=report_html,
        created_by=actor,
    )
    session.add(run)
    session.flush()
    run_id = stored_id(run.id, "evaluation run")
    session.add_all(
        EvaluationItem(
            run_id=run_id,
            position=item.index,
            text=item.text,
            source=item.source,
            label=item.label,
            predicted=item.predicted,
            confidence=item.confidence,
            probabilities=item.probabilities,
        )
        for item in result.items
    )
    return run


def list_runs(
    session: Session,
    *,
    model_name: str | None = None,
    dataset_name: str | None = None,
    limit: int = 100,
) -> list[EvaluationRun]:
    """Evaluation runs, newest first, of one model and/or on one dataset when given."""
    query = select(EvaluationRun).order_by(col(EvaluationRun.id).desc()).limit(limit)
    if model_name is not None:
        query = query.where(EvaluationRun.model_name == model_name)
    if dataset_name is not None:
        query = query.where(EvaluationRun.dataset_name == dataset_name)
    return list(session.exec(query).all())


def get_run(session: Session, run_id: int) -> EvaluationRun:
    """A stored evaluation run, or NotFoundError."""
    run = session.get(EvaluationRun, run_id)
    if run is None:
        raise NotFoundError(f"evaluation run {run_id} does not exist", field="run_id")
    return run


def evaluation_history(session: Session, model_name: str, limit: int = 50) -> list[EvaluationRun]:
    """The newest evaluation runs of a model (every version), newest first."""
    return list(
        session.exec(
            select(EvaluationRun)
            .where(EvaluationRun.model_name == model_name)
            .order_by(col(EvaluationRun.id).desc())
            .limit(limit)
        ).all()
    )
