"""Models and labels: labelled sets, label corrections, evaluation runs, promotions and
model jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


class LabelledSet(SQLModel, table=True):
    """A named labelled sample uploaded by an analyst (texts are PII-redacted)."""

    __tablename__ = "labelled_sets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    sha256: str = Field(max_length=64)
    n: int
    mode: str = Field(max_length=16)
    created_at: datetime = utc_column()
    created_by: str = Field(max_length=128)


class LabelledItem(SQLModel, table=True):
    """One labelled text of a labelled set."""

    __tablename__ = "labelled_items"

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="labelled_sets.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=64)


class LabelCorrection(SQLModel, table=True):
    """A person's correction of a message's sentiment label; the newest one counts."""

    __tablename__ = "label_corrections"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    label: str = Field(max_length=16)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    corrected_by: str = Field(max_length=128)
    corrected_at: datetime = utc_column()


class EvaluationRun(SQLModel, table=True):
    """One model scored on one labelled dataset: the summary metrics and the HTML report."""

    __tablename__ = "evaluation_runs"

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=64, index=True)
    model_version: str = Field(max_length=128, index=True)
    dataset_name: str = Field(max_length=128)
    dataset_sha256: str = Field(max_length=64)
    n: int
    mode: str = Field(max_length=16)
    summary: dict[str, Any] = json_column(nullable=False)
    report_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = utc_column(index=True)
    created_by: str = Field(max_length=128)


class EvaluationItem(SQLModel, table=True):
    """One prediction of an evaluation run."""

    __tablename__ = "evaluation_items"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="evaluation_runs.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str | None = Field(default=None, max_length=64)
    label: str = Field(max_length=16)
    predicted: str = Field(max_length=16)
    confidence: float
    probabilities: dict[str, float] = json_column(nullable=False)


class ModelPromotion(SQLModel, table=True):
    """A side-by-side comparison of a candidate model with the default, and the decision."""

    __tablename__ = "model_promotions"

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=64)
    current_version: str | None = Field(default=None, max_length=128)
    candidate_version: str = Field(max_length=128)
    artifact_dir: str = Field(sa_column=Column(Text, nullable=False))
    promoted: bool
    comparison: dict[str, Any] = json_column(nullable=False)
    decided_at: datetime = utc_column(index=True)
    decided_by: str = Field(max_length=128)


class ModelJob(SQLModel, table=True):
    """A background model job: an adaptation (fine-tuning on people's labels) or the gate and
    promotion of an adapted candidate. `active_slot` is set while the job is queued or running
    and is unique, so the database itself refuses a second active job."""

    __tablename__ = "model_jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)  # adaptation | promotion
    status: str = Field(max_length=16, index=True)  # queued | running | succeeded | failed
    active_slot: str | None = Field(default=None, max_length=16, unique=True)
    requested_by: str = Field(max_length=128)
    params: dict[str, Any] = json_column(nullable=False)
    created_at: datetime = utc_column(index=True)
    started_at: datetime | None = utc_column(nullable=True)
    finished_at: datetime | None = utc_column(nullable=True)
    heartbeat_at: datetime | None = utc_column(nullable=True)
    runner: str | None = Field(default=None, max_length=128)
    log: str = Field(default="", sa_column=Column(Text, nullable=False))
    result: dict[str, Any] | None = json_column()
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
