"""Human overrides of a computed score (pure).

A person who knows something the data does not (an acquisition, a signed renewal) can set an
account's score, its band, or both, with a reason and an expiry. Rules:

- The override is *active* when `created_at` (if given) <= `as_of` < `expires_at`. While active
  it wins; from `expires_at` on, the computed score is effective again. Nothing is deleted:
  the computed score is always kept alongside the effective one.
- A score-only override takes its band from the computed score's bands.
- A band-only override changes the band and keeps the computed number (which may be None).
- An override giving both uses both as given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sentiment_service.health.scorecard import band_for
from sentiment_service.health.scoring import HealthScore


class Override(BaseModel):
    """A person's score and/or band for an account, valid until `expires_at`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    band: str | None = None
    reason: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    expires_at: datetime
    created_by: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    created_at: datetime | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Override:
        if self.score is None and self.band is None:
            raise ValueError("an override needs a score, a band or both")
        for name, moment in (("expires_at", self.expires_at), ("created_at", self.created_at)):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.created_at is not None and self.created_at >= self.expires_at:
            raise ValueError("expires_at must be after created_at")
        return self

    def is_active(self, as_of: datetime) -> bool:
        """Whether the override applies at `as_of`."""
        started = self.created_at is None or self.created_at <= as_of
        return started and as_of < self.expires_at


class EffectiveScore(BaseModel):
    """The score to show and act on, with the computed score and the override beside it."""

    model_config = ConfigDict(frozen=True)

    score: float | None
    band: str
    source: Literal["computed", "override"]
    computed: HealthScore
    override: Override | None
    override_active: bool


def effective_score(
    computed: HealthScore, override: Override | None, *, as_of: datetime
) -> EffectiveScore:
    """The effective score at `as_of`: the override while active, else the computed score.

    Raises ValueError if the override's band is not one of the computed score's bands.
    """
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    if override is None or not override.is_active(as_of):
        return EffectiveScore(
            score=computed.score,
            band=computed.band,
            source="computed",
            computed=computed,
            override=override,
            override_active=False,
        )
    names = [band.name for band in computed.bands]
    if override.band is not None and override.band not in names:
        raise ValueError(f"override band {override.band!r} is not one of {names}")
    score = override.score if override.score is not None else computed.score
    band = override.band if override.band is not None else band_for(score, computed.bands)
    return EffectiveScore(
        score=score,
        band=band,
        source="override",
        computed=computed,
        override=override,
        override_active=True,
    )
