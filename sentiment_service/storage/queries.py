"""Typed query constructors that SQLModel's own `select` does not cover."""

from __future__ import annotations

from typing import Any

from sqlmodel.sql.expression import Select


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """A SELECT of two or more columns, typed as rows of any width.

    SQLModel's `select` types at most four columns (and only some scalar types), so wider
    selects go through here; at run time this is the statement `select` builds itself, and
    `Session.exec` returns its rows.
    """
    if len(columns) < 2:
        raise ValueError("select_columns takes two or more columns; use select() for one")
    return Select(*columns)
