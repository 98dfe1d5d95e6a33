"""Alert rule vocabulary: the kinds, their parameters, scopes and webhook URL rules.

Parameters are validated per kind with pydantic models; the stored `params` JSON is the
model's dump, so defaults are written out and a rule reads the same after a code upgrade.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    model_validator,
)

from sentiment_service.text_rules import NoNul
from sentiment_service.vocabulary import Source

MAX_URL_CHARS = 2048
ScopeValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul]


class RuleKind(StrEnum):
    """What a rule watches."""

    NEGATIVE_SHARE = "negative_share"
    SENTIMENT_DROP = "sentiment_drop"
    COMPETITOR_MENTIONED = "competitor_mentioned"
    BAND_FELL = "band_fell"
    DATA_DARK = "data_dark"


class ScopeType(StrEnum):
    """Which accounts a rule watches."""

    ALL = "all"
    SEGMENT = "segment"
    OWNER = "owner"
    ACCOUNT = "account"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NegativeShareParams(_Params):
    """Share of negative messages above `threshold` on `days` consecutive calendar days."""

    threshold: float = Field(
        0.5, gt=0, lt=1, description="A day counts when its negative share exceeds this."
    )
    days: int = Field(3, ge=1, le=90, description="Consecutive days needed.")
    min_messages: int = Field(
        1, ge=1, le=10_000, description="Scored messages a day needs to count at all."
    )
    lookback_days: int = Field(
        7, ge=1, le=90, description="Only streaks whose last day is this recent alert."
    )


class SentimentDropParams(_Params):
    """Mean sentiment of the last `window_days` below that of the window before by `drop`."""

    drop: float = Field(0.3, gt=0, le=2, description="Fall of the mean score (-1..1 scale).")
    window_days: int = Field(30, ge=7, le=180)
    min_messages: int = Field(5, ge=1, le=10_000, description="Scored messages per window.")


class CompetitorMentionedParams(_Params):
    """A competitor named in a message learned after the rule was created."""

    evaluating_only: bool = Field(False, description="Only mentions with intent 'evaluating'.")
    competitors: list[Name] | None = Field(
        None, max_length=100, description="Only these competitors (default: any)."
    )
    max_age_days: int = Field(
        30, ge=1, le=365, description="Ignore messages written longer ago than this."
    )


class BandFellParams(_Params):
    """The band of the latest stored health score is lower than that of the one before."""

    scorecard: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = "churn_risk"
    to_bands: list[Name] | None = Field(
        None, max_length=20, description="Only falls into these bands (default: any fall)."
    )
    max_age_days: int = Field(
        7, ge=1, le=365, description="Ignore falls whose latest score is older than this."
    )


class DataDarkParams(_Params):
    """A channel that used to send data for the account went quiet."""

    history_days: int = Field(180, ge=14, le=730, description="History that sets 'usual'.")
    sources: list[Source] | None = Field(
        None, max_length=10, description="Only these channels (default: any)."
    )


PARAMS: dict[RuleKind, type[_Params]] = {
    RuleKind.NEGATIVE_SHARE: NegativeShareParams,
    RuleKind.SENTIMENT_DROP: SentimentDropParams,
    RuleKind.COMPETITOR_MENTIONED: CompetitorMentionedParams,
    RuleKind.BAND_FELL: BandFellParams,
    RuleKind.DATA_DARK: DataDarkParams,
}


def parse_params(kind: RuleKind | str, params: dict[str, Any] | None) -> Any:
    """The typed parameters of a rule kind (raises pydantic.ValidationError)."""
    return PARAMS[RuleKind(kind)].model_validate(params or {})


class Scope(BaseModel):
    """Which accounts a rule watches: all, or those of one segment, owner or account id."""

    model_config = ConfigDict(extra="forbid")

    type: ScopeType = ScopeType.ALL
    value: ScopeValue | None = None

    @model_validator(mode="after")
    def _value_matches_type(self) -> Scope:
        if self.type == ScopeType.ALL and self.value is not None:
            raise ValueError("scope 'all' takes no value")
        if self.type != ScopeType.ALL and self.value is None:
            raise ValueError(f"scope '{self.type}' needs a value")
        return self


def check_webhook_url(url: HttpUrl) -> str:
    """The URL as stored: http(s) with a host, no longer than MAX_URL_CHARS."""
    text = str(url)
    if len(text) > MAX_URL_CHARS:
        raise ValueError(f"URL is longer than {MAX_URL_CHARS} characters")
    if not url.host:
        raise ValueError("URL needs a host")
    return text


def mask_url(url: str) -> str:
    """A webhook URL without its secret parts (path, query, user info): Slack-style webhook
    URLs carry their token in the path, so only admins see the whole URL."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    tail = "/***" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{tail}"


def url_fingerprint(url: str) -> str:
    """A short digest that tells URLs apart in the audit log without revealing them."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


WebhookUrl = Annotated[HttpUrl, AfterValidator(check_webhook_url)]
"""An http(s) webhook URL, validated and stored as text."""
