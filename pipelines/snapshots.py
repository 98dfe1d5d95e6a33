"""Daily account feature snapshots: what the features were at the end of each day.

A snapshot for day D is computed with `as_of` = the end of D (UTC), so it only sees data of
D and before. Snapshots are idempotent (recomputing a day replaces it) and a range run
resumes by skipping days that already have snapshots unless `replace` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from pipelines.features import Basis, account_features, as_json
from pipelines.queue import active_version
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Account, FeatureSnapshot


def end_of_day(day: date) -> datetime:
    """The last instant of a UTC day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(
        microseconds=1
    )


def days(start: date, end: date, step: int = 1) -> Iterator[date]:
    """Every `step`-th day from start, and always `end` itself (inclusive)."""
    offsets = list(range(0, (end - start).days + 1, step))
    for offset in offsets:
        yield start + timedelta(days=offset)
    if start <= end and start + timedelta(days=offsets[-1]) != end:
        yield end


@dataclass
class SnapshotSummary:
    """What a snapshot run did."""

    days: int = 0
    skipped_days: int = 0
    rows: int = 0


def snapshot_day(session: Session, day: date, *, basis: Basis = "known") -> int:
    """Compute and store every account's features at the end of `day`; returns rows."""
    account_ids = list(session.exec(select(Account.id).order_by(col(Account.id))).all())
    features = account_features(session, account_ids, end_of_day(day), basis=basis)
    session.execute(delete(FeatureSnapshot).where(col(FeatureSnapshot.as_of) == day))
    versions = {"sentiment": active_version(session), "basis": basis}
    for account_id, values in features.items():
        session.add(
            FeatureSnapshot(
                account_id=account_id,
                as_of=day,
                features=as_json(values),
                model_versions=versions,
            )
        )
    return len(features)


def snapshot_range(
    database: Database,
    start: date,
    end: date,
    *,
    basis: Basis = "known",
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SnapshotSummary:
    """Snapshots for each day of a range, one transaction per day (resumable)."""
    summary = SnapshotSummary()
    for day in days(start, end):
        with database.session() as session:
            exists = session.exec(
                select(FeatureSnapshot.id).where(FeatureSnapshot.as_of == day).limit(1)
            ).first()
            if exists is not None and not replace:
                summary.skipped_days += 1
            else:
                summary.rows += snapshot_day(session, day, basis=basis)
                summary.days += 1
        if progress is not None:
            progress(1)
    return summary
