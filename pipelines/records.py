"""Incoming records (what the API and connectors hand to ingestion), validated with pydantic.

Validation turns one raw JSON object into either a typed record or a `Rejection` that names
the field and a reason code; the caller quarantines rejections, nothing is dropped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from models.text_cleaning import LONE_SURROGATE, replace_lone_surrogates
from pipelines.dates import Day
from sentiment_service.text_rules import NoNul, StripNul
from sentiment_service.vocabulary import AuthorRole, Outcome, Source

Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256), NoNul
]
SystemName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


def valid_unicode(value: Any) -> Any:
    """`value` (a JSON value) with lone surrogates in its strings and keys replaced by U+FFFD.

    Free text may carry half of a character cut off by a vendor (JSON can hold lone UTF-16
    surrogates); it keeps the rest of its words. Identifiers are refused instead
    (`invalid_unicode`): two different broken ids must not become the same id.
    """
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, dict):
        return {valid_unicode(key): valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    return value


ValidUnicode = BeforeValidator(valid_unicode)


@dataclass(frozen=True)
class ValidationLimits:
    """Limits that depend on settings and on the clock, passed as validation context."""

    max_text_chars: int
    now: datetime
    future_skew: timedelta

    @property
    def latest_allowed(self) -> datetime:
        """The latest timestamp accepted (now plus allowed clock skew)."""
        return self.now + self.future_skew


# Nothing the service stores was written before the Unix epoch; a 0 or negative epoch is a
# vendor's "unknown". The floor also keeps date arithmetic (windows, rollups) far from year 1.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)


def _as_utc(value: datetime, info: ValidationInfo) -> datetime:
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise PydanticCustomError(
            "timestamp_out_of_range", "timestamp {value} is out of range", {"value": str(value)}
        ) from None
    if value <= EARLIEST_TIMESTAMP:
        raise PydanticCustomError(
            "timestamp_out_of_range",
            "timestamp {value} is not after 1970-01-01T00:00:00Z",
            {"value": value.isoformat()},
        )
    limits: ValidationLimits | None = (info.context or {}).get("limits")
    if limits is not None and value > limits.latest_allowed:
        raise PydanticCustomError(
            "future_timestamp", "timestamp {value} is in the future", {"value": value.isoformat()}
        )
    return value


class MessageRecord(BaseModel):
    """One message as sent by a client or a connector."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    source_system: SystemName
    external_id: Identifier
    account_id: Identifier | None = Field(
        None,
        validate_default=True,
        description="Our account id; may be empty only for brand-level social mentions.",
    )
    author_role: AuthorRole = AuthorRole.CUSTOMER
    text: Annotated[str, ValidUnicode, StripNul] = Field(
        description="The message text; redacted for PII before storage (NUL characters dropped)."
    )
    created_at: datetime = Field(
        description="When it was written, after 1970-01-01; naive times are taken as UTC."
    )
    thread_id: Identifier | None = None
    language: (
        Annotated[str, StringConstraints(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})?$")] | None
    ) = None
    metadata: Annotated[dict[str, Any], ValidUnicode] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _text_present_and_bounded(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise PydanticCustomError("empty_text", "text is empty")
        limits: ValidationLimits | None = (info.context or {}).get("limits")
        if limits is not None and len(value) > limits.max_text_chars:
            raise PydanticCustomError(
                "text_too_long",
                "text is longer than {limit} characters",
                {"limit": limits.max_text_chars},
            )
        return value

    @field_validator("created_at")
    @classmethod
    def _created_at_utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        return _as_utc(value, info)

    @field_validator("account_id")
    @classmethod
    def _account_required(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("source") not in (Source.SOCIAL, None):
            raise PydanticCustomError(
                "account_required", "account_id is required unless source is 'social'"
            )
        return value


class MetricRecord(BaseModel):
    """One observation of a quantitative metric for an account."""

    model_config = ConfigDict(extra="forbid")

    account_id: Identifier
    name: MetricName = Field(description="snake_case, e.g. logins, seats_used, nps")
    value: float
    observed_at: datetime
    source: SystemName = "api"

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise PydanticCustomError("not_finite", "value must be a finite number")
        return value

    @field_validator("observed_at")
    @classmethod
    def _observed_at_utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        return _as_utc(value, info)


class OutcomeRecord(BaseModel):
    """A churn/renewal/expansion event for an account."""

    model_config = ConfigDict(extra="forbid")

    account_id: Identifier
    outcome: Outcome
    occurred_on: Day
    notes: Annotated[str, ValidUnicode, StringConstraints(max_length=2000), StripNul] | None = None

    @model_validator(mode="before")
    @classmethod
    def _occurred_at_alias(cls, data: Any) -> Any:
        """`occurred_at` (a date, or a timestamp whose UTC date is taken) is accepted for
        `occurred_on`, as CRM exports and older files name it."""
        if not isinstance(data, dict) or "occurred_at" not in data or "occurred_on" in data:
            return data  # with both, occurred_at is refused as an unexpected field
        data = dict(data)
        value = data.pop("occurred_at")
        if isinstance(value, str) and len(value) > 10:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
                value = aware.astimezone(UTC).date().isoformat()
            except (ValueError, OverflowError):
                pass  # left as it is: the date validation names the field
        data["occurred_on"] = value
        return data


RecordT = TypeVar("RecordT", bound=BaseModel)


@dataclass(frozen=True)
class Rejection:
    """Why a raw record was not accepted."""

    code: str
    reason: str
    field: str | None


CUSTOM_CODES = frozenset(
    {
        "empty_text",
        "text_too_long",
        "future_timestamp",
        "timestamp_out_of_range",
        "account_required",
        "not_finite",
        "nul_character",
    }
)
PYDANTIC_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unexpected_field",
    "string_unicode": "invalid_unicode",  # a lone surrogate in an identifier
}


def _reason_code(error: dict[str, Any]) -> str:
    kind, loc = error["type"], error["loc"]
    if kind in CUSTOM_CODES:
        return kind
    if kind in PYDANTIC_CODES:
        return PYDANTIC_CODES[kind]
    if loc == ("source",) and kind == "enum":
        return "unknown_source"
    if kind.startswith(("datetime", "date")):
        return "invalid_timestamp"
    return "invalid_value"


def validate_record(
    model: type[RecordT], raw: Any, limits: ValidationLimits
) -> RecordT | Rejection:
    """Validate one raw JSON value as `model`; the first error becomes the rejection."""
    if not isinstance(raw, dict):
        rejection = Rejection("not_an_object", "each record must be a JSON object", None)
        return rejection
    for key in raw:  # pydantic reports such a key without naming it
        if isinstance(key, str) and LONE_SURROGATE.search(key):
            reason = "field name is not valid Unicode (it holds a lone surrogate)"
            return Rejection("invalid_unicode", reason, key)
    try:
        return model.model_validate(raw, context={"limits": limits})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        field: str | None = ".".join(map(str, loc))
        if not field:  # an unexpected key "" is named '""'; no location at all: no field
            field = json.dumps(loc[0]) if loc else None
        message = str(first["msg"])
        return Rejection(_reason_code(dict(first)), message, field)
