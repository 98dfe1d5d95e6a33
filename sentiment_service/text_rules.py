"""Rules for text that reaches the database: PostgreSQL cannot store NUL characters."""

from __future__ import annotations

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def reject_nul(value: str) -> str:
    """Refuse identifiers and names that contain a NUL character."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "contains a NUL (\\x00) character")
    return value


def strip_nul(value: str) -> str:
    """Drop NUL characters from free text (they carry no meaning and cannot be stored)."""
    return value.replace("\x00", "")


NoNul = AfterValidator(reject_nul)
StripNul = AfterValidator(strip_nul)
