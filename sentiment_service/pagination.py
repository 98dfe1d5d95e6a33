"""Cursor pagination shared by the listings.

A listing fetches one row more than the page holds: that extra row only tells whether a next
page exists, and the cursor of that page is made from the page's last row (`paginate`). Keyset
listings make the cursor from the last row's sort key; listings sorted by a computed value
page by offset with an opaque cursor bound to the sort order (`encode_offset_cursor`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from sentiment_service.errors import InvalidInputError

MAX_OFFSET = 10_000_000
_OFFSET_CURSOR = re.compile(r"^(-?[a-z_]{1,32}):(\d{1,8})$")

Row = TypeVar("Row")


def paginate(
    rows: Sequence[Row], limit: int, cursor_of: Callable[[Row], str]
) -> tuple[list[Row], str | None]:
    """The first `limit` of `rows` (fetched with a limit of `limit + 1`) and the cursor of the
    next page, made by `cursor_of` from the page's last row (None: this is the last page)."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    return page, cursor_of(page[-1])


def encode_offset_cursor(sort: str, offset: int) -> str:
    """An opaque cursor for offset pagination under one sort order."""
    return base64.urlsafe_b64encode(f"{sort}:{offset}".encode()).decode().rstrip("=")


def decode_offset_cursor(cursor: str, sort: str) -> int:
    """The offset behind a cursor handed out for `sort`; 422 naming `cursor` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raw = ""
    match = _OFFSET_CURSOR.fullmatch(raw)
    if match is None:
        raise InvalidInputError("cursor is not one this listing handed out", field="cursor")
    if match.group(1) != sort:
        raise InvalidInputError(
            f"cursor belongs to sort={match.group(1)}, not sort={sort}", field="cursor"
        )
    offset = int(match.group(2))
    if offset > MAX_OFFSET:
        raise InvalidInputError(f"cursor offset beyond {MAX_OFFSET}", field="cursor")
    return offset
