"""The supported range of dates and timestamps, as annotated types shared by records and the API.

Nothing the service stores was written before the Unix epoch, and date arithmetic (windows of
a few years, week and month periods, a year of override expiry) must never leave Python's
years 1..9999. So every date and timestamp that comes in is checked against
[`EARLIEST_DAY`, `LATEST_DAY`] (timestamps: from `EARLIEST_MOMENT` to the end of
`LATEST_DAY`, compared in UTC) and refused with a validation error naming the field; a
timestamp whose UTC conversion itself overflows (0001-01-01T00:00:00+01:00) is refused too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9000, 12, 31)
EARLIEST_MOMENT = datetime.combine(EARLIEST_DAY, time(), tzinfo=UTC)
LATEST_MOMENT = datetime.combine(LATEST_DAY, time.max, tzinfo=UTC)
RANGE_TEXT = f"{EARLIEST_DAY.isoformat()}..{LATEST_DAY.isoformat()}"


def _out_of_range(value: object) -> PydanticCustomError:
    return PydanticCustomError(
        "date_out_of_range",
        "{value} is outside the supported range {range}",
        {"value": str(value), "range": RANGE_TEXT},
    )


def check_day(value: date) -> date:
    """The day itself, when it lies in the supported range."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise _out_of_range(value.isoformat())
    return value


def check_moment(value: datetime) -> datetime:
    """The timestamp unchanged (naive stays naive), when it lies in the supported range; naive
    values are compared as UTC."""
    try:
        utc = value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
    except OverflowError:  # the UTC conversion leaves years 1..9999
        raise _out_of_range(value.isoformat()) from None
    if not EARLIEST_MOMENT <= utc <= LATEST_MOMENT:
        raise _out_of_range(value.isoformat())
    return value


Day = Annotated[date, AfterValidator(check_day)]
"""A date in the supported range (1970-01-01..9000-12-31)."""
Moment = Annotated[datetime, AfterValidator(check_moment)]
"""A timestamp in the supported range (1970-01-01T00:00:00Z..9000-12-31T23:59:59.999999Z)."""
