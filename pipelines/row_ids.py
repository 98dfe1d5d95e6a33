"""The id of a stored row: a model's `id` is None only before the row is inserted."""

from __future__ import annotations


def stored_id(value: int | None, what: str = "row") -> int:
    """`value` as an int; a None id means the row was never stored, a programming error."""
    if value is None:
        raise RuntimeError(f"{what} has no id: it was not stored (flush before reading its id)")
    return value
