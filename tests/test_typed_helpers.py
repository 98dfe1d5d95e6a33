"""The small helpers that replaced typing asserts and untyped selects (issue 21)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, SQLModel, create_engine

from pipelines.row_ids import stored_id
from sentiment_service.errors import NotFoundError, ServiceError, handled_as
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import Account


def test_stored_id_passes_ids_and_names_a_row_that_was_never_stored() -> None:
    assert stored_id(7) == 7
    assert stored_id(0) == 0
    with pytest.raises(RuntimeError, match="alert event has no id"):
        stored_id(None, "alert event")


def test_handled_as_narrows_and_refuses_the_wrong_class() -> None:
    error = NotFoundError("no such account")
    assert handled_as(error, ServiceError) is error
    with pytest.raises(TypeError, match="ServiceError handler was given ValueError"):
        handled_as(ValueError("x"), ServiceError)


def test_select_columns_reads_rows_of_any_width_and_refuses_one_column() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Account.__table__])  # type: ignore[list-item]
    with Session(engine) as session:
        session.add(Account(id="acct-1", name="Acme"))
        session.commit()
        rows = session.exec(select_columns(Account.id, Account.name, Account.id)).all()
    assert [tuple(row) for row in rows] == [("acct-1", "Acme", "acct-1")]
    with pytest.raises(ValueError, match="two or more columns"):
        select_columns(Account.id)
