"""`paginate` and the offset cursors shared by the cursor-paginated listings."""

from __future__ import annotations

import pytest

from sentiment_service.errors import InvalidInputError
from sentiment_service.pagination import (
    MAX_OFFSET,
    decode_offset_cursor,
    encode_offset_cursor,
    paginate,
)


def test_the_extra_row_gives_a_cursor_made_from_the_last_row_shown() -> None:
    page, cursor = paginate([5, 4, 3, 2], 3, lambda row: f"below-{row}")
    assert page == [5, 4, 3]
    assert cursor == "below-3"


@pytest.mark.parametrize("rows", [[], [5], [5, 4, 3]])
def test_no_extra_row_means_the_last_page(rows: list[int]) -> None:
    page, cursor = paginate(rows, 3, lambda row: f"below-{row}")
    assert page == rows
    assert cursor is None


def test_offset_cursors_round_trip_and_are_bound_to_their_sort() -> None:
    cursor = encode_offset_cursor("-health", 150)
    assert decode_offset_cursor(cursor, "-health") == 150
    with pytest.raises(InvalidInputError) as error:
        decode_offset_cursor(cursor, "health")
    assert error.value.field == "cursor"


@pytest.mark.parametrize(
    "cursor", ["", "not base64!", encode_offset_cursor("health", MAX_OFFSET + 1)]
)
def test_foreign_or_oversized_offset_cursors_are_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        decode_offset_cursor(cursor, "health")
    assert error.value.field == "cursor"
