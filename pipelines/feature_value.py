"""The value of one account feature, shared by the feature pipeline and health scoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FeatureValue:
    """One account feature at scoring time: its value and when it was observed."""

    value: float | None
    observed_at: datetime | None = None
