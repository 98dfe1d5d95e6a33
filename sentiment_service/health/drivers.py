"""What moved a score: components ranked by the change in their contribution (pure).

A component's contribution is its share of the score in points (see `scoring.py`), so the
changes of all components add up to the change of the score. A component that is missing or
stale on one side contributes 0 points there. Because weights are renormalised over the
present components, a component going missing also shifts the others' contributions; that is
reported as it is, with each side's status, rather than hidden. Changes are computed from the
unrounded contributions (`effective_weight x transformed`), so the rounding of the displayed
contributions to tenths never creates a driver; the reported numbers are rounded to 2 decimals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from sentiment_service.health.scoring import ComponentScore, HealthScore, Status


class Driver(BaseModel):
    """One component's change in contribution between two scores."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    previous_contribution: float
    current_contribution: float
    change: float
    direction: Literal["up", "down"]
    previous_status: Status | None
    current_status: Status | None


def _points(component: ComponentScore | None) -> float:
    """The unrounded contribution (the stored one is rounded to tenths for display)."""
    if component is None or component.status != "ok" or component.transformed is None:
        return 0.0
    return component.effective_weight * component.transformed


def top_drivers(previous: HealthScore, current: HealthScore, k: int = 3) -> list[Driver]:
    """The `k` components whose contribution changed most (by absolute points), largest first.

    `direction` is `up` when the component raised the score, `down` when it lowered it.
    Components without change are left out; ties are broken by name. Both scores must come
    from the same scorecard. A component only one side has shows status None on the other.
    """
    if previous.scorecard_id != current.scorecard_id:
        raise ValueError(
            f"scores come from different scorecards: "
            f"{previous.scorecard_id!r} and {current.scorecard_id!r}"
        )
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    before: dict[str, ComponentScore] = {c.name: c for c in previous.components}
    after: dict[str, ComponentScore] = {c.name: c for c in current.components}
    ranked: list[tuple[float, str, Driver]] = []
    for name in [*before, *(n for n in after if n not in before)]:
        old, new = before.get(name), after.get(name)
        old_points, new_points = _points(old), _points(new)
        change = new_points - old_points
        if abs(change) < 1e-9:
            continue
        driver = Driver(
            name=name,
            label=after[name].label if name in after else before[name].label,
            previous_contribution=round(old_points, 2),
            current_contribution=round(new_points, 2),
            change=round(change, 2),
            direction="up" if change > 0 else "down",
            previous_status=old.status if old is not None else None,
            current_status=new.status if new is not None else None,
        )
        ranked.append((-abs(change), name, driver))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [driver for _, _, driver in ranked[:k]]
