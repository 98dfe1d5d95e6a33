"""Issue 19: the write counters behind the features ETag (`data_versions`) move with every
insert, update and delete of a feature input table, in the writer's transaction, and not
with reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, update
from sqlmodel import Session, SQLModel, select

from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    CompetitorMention,
    DataVersion,
    LabelCorrection,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    TopicCorrection,
)
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import message, metric

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def version(database: Database) -> int:
    with database.session() as session:
        return int(session.exec(select(func.coalesce(func.sum(DataVersion.version), 0))).one())


def _account() -> Account:
    return Account(id="acme", name="Acme", created_at=NOW, updated_at=NOW)


def _message() -> Message:
    return Message(
        id=1,
        account_id="acme",
        source="ticket",
        source_system="zendesk",
        external_id="t-1",
        author_role="customer",
        text="The export keeps failing.",
        created_at=NOW,
        ingested_at=NOW,
        updated_at=NOW,
        content_hash="0" * 64,
    )


ROWS: dict[str, Callable[[], SQLModel]] = {
    "accounts": _account,
    "messages": _message,
    "message_scores": lambda: MessageScore(
        message_id=1, model_version="m1", status="scored", score=0.2, scored_at=NOW
    ),
    "message_topics": lambda: MessageTopic(
        message_id=1,
        model_version="t1",
        topic="billing",
        confidence=0.9,
        sentence_index=0,
        evidence="billing",
    ),
    "competitor_mentions": lambda: CompetitorMention(
        message_id=1,
        model_version="c1",
        competitor="quorvo",
        alias="Quorvo",
        intent="mention",
        sentence_index=0,
        evidence="Quorvo",
    ),
    "label_corrections": lambda: LabelCorrection(
        message_id=1, label="negative", corrected_by="t", corrected_at=NOW
    ),
    "topic_corrections": lambda: TopicCorrection(
        message_id=1, topic="billing", present=True, corrected_by="t", corrected_at=NOW
    ),
    "metrics": lambda: Metric(
        account_id="acme",
        name="logins",
        value=1.0,
        observed_at=NOW,
        source="product_analytics",
        ingested_at=NOW,
    ),
}
ORDER = list(ROWS)  # parents before children


CHANGES: dict[str, dict[str, object]] = {  # one UPDATE per table
    "accounts": {"name": "Acme Inc"},
    "messages": {"text": "The export works now."},
    "message_scores": {"score": 0.9},
    "message_topics": {"confidence": 0.5},
    "competitor_mentions": {"alias": "Quorvo Cloud"},
    "label_corrections": {"label": "positive"},
    "topic_corrections": {"present": False},
    "metrics": {"value": 2.0},
}


def test_every_write_of_a_feature_table_moves_the_version(database: Database) -> None:
    rows = {}
    for table in ORDER:
        before = version(database)
        with database.session() as session:
            row = ROWS[table]()
            session.add(row)
        assert version(database) > before, f"INSERT into {table}"
        rows[table] = type(row)
    for table in ORDER:
        before = version(database)
        with database.session() as session:
            session.execute(update(rows[table]).values(**CHANGES[table]))
        assert version(database) > before, f"UPDATE of {table}"
    for table in reversed(ORDER):
        before = version(database)
        with database.session() as session:
            session.execute(delete(rows[table]))
        assert version(database) > before, f"DELETE from {table}"


def test_reads_and_rolled_back_writes_leave_the_version(database: Database) -> None:
    with database.session() as session:
        session.add(_account())
    before = version(database)
    with database.session() as session:
        for model in (Account, Message, Metric, MessageScore):
            session.exec(select(model)).all()
    assert version(database) == before
    with pytest.raises(RuntimeError), database.session() as session:
        session.add(_message())
        session.flush()
        raise RuntimeError("rolled back")
    assert version(database) == before
    with Session(database.engine) as session:  # seen by the writer before it commits
        session.add(_message())
        session.flush()
        moved = session.exec(select(func.sum(DataVersion.version))).one()
        session.rollback()
    assert moved is not None and moved > before and version(database) == before


def test_features_etag_moves_with_writes_not_with_reads(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    reader, writer = auth(keys[Role.VIEWER]), auth(keys[Role.INGEST])
    url = "/v1/features?limit=100&as_of=2026-11-01T00:00:00Z"

    def etag() -> str:
        response = client.get(url, headers=reader)
        assert response.status_code == 200
        return response.headers["ETag"]

    def ingest(kind: str, record: dict[str, object]) -> None:
        response = client.post(f"/v1/{kind}", json={kind: [record]}, headers=writer)
        assert response.status_code == 200 and response.json()["counts"]["accepted"] == 1, (
            response.text
        )

    with database.session() as session:
        session.add(_account())
    ingest("messages", message("t-1"))
    first = etag()
    same = version(database)
    assert etag() == first and version(database) == same
    ingest("metrics", metric())
    second = etag()
    assert second != first
    ingest("messages", message("t-2"))
    assert etag() != second
