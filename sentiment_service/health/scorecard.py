"""Scorecards: what a health score is made of, per objective, with per-segment overrides.

A `Scorecard` is plain configuration (pydantic, frozen, `extra="forbid"`), stored as YAML or
JSON and versioned by the storage layer. It holds

- `bands`: named thresholds, highest first; a score belongs to the first band whose
  `min_score` it reaches. `min_score` must strictly descend and the last band must start at 0,
  so every score has a band. A score that cannot be computed gets the band `unknown`.
- `components`: each reads one feature, turns it into 0..100 health points with a transform
  (see `transforms.py`) and carries a positive `weight`, a `freshness_days` window and, for
  sentiment and topic components, whether the messages behind it should be quoted
  (`evidence`).
- `segment_overrides`: for accounts whose attributes match (`{industry: healthcare}`, or a
  list of accepted values `{industry: [healthcare, fintech]}`; every listed attribute must
  match), replace weights or transforms of base components and add components.
  `resolve_scorecard` applies every matching override in order, later ones winning.
- `message_volume`: how message volume enters confidence and, optionally, the weights.
- `aggregation`: the weighted mean (default) or a weighted power mean (see `scoring.py`).

Every score is oriented so that higher means better for the objective: the `churn_risk`
scorecard gives a *health* score (high = low churn risk), the `expansion` scorecard a
likelihood-to-expand score (high = likely).

Validation names the field: duplicate component names, weights <= 0, bands not descending,
overrides naming unknown components, transforms contradicting a component's direction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sentiment_service.health.transforms import Direction, Transform, check_direction

CardId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Weight = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Kind = Literal["metric", "sentiment", "topic"]

UNKNOWN_BAND = "unknown"
"""The band of an account whose score could not be computed (no component present)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Frozen):
    """A named score range starting at `min_score` (up to the next band's start)."""

    name: Name
    min_score: float = Field(ge=0, le=100, allow_inf_nan=False)


class Component(_Frozen):
    """One weighted part of a score: a feature, its transform and how fresh it must be."""

    name: Name
    feature: Name
    label: Text
    description: Text
    kind: Kind
    transform: Transform
    direction: Direction
    weight: Weight
    freshness_days: float = Field(gt=0, allow_inf_nan=False)
    evidence: bool = False
    # What a value of 0 means. `score`: a measurement like any other (0 overdue invoices is
    # good news). `no_evidence`: no events happened in the window (no competitor named, no
    # billing talk): absent evidence, which is left out of the score (neutral) instead of
    # counting as the best possible value, and lowers confidence.
    zero_is: Literal["score", "no_evidence"] = "score"
    no_evidence_text: str | None = Field(
        default=None, description="Explanation shown for no_evidence, e.g. 'no X in 90 days'"
    )

    @model_validator(mode="after")
    def _transform_fits_direction(self) -> Component:
        check_direction(self.transform, self.direction)
        return self


class SegmentOverride(_Frozen):
    """Changes for accounts whose attributes all match `match`."""

    name: Name | None = None
    match: dict[str, str | tuple[str, ...]] = Field(min_length=1)
    weights: dict[str, Weight] = Field(default_factory=dict)
    transforms: dict[str, Transform] = Field(default_factory=dict)
    add_components: tuple[Component, ...] = ()

    @field_validator("add_components")
    @classmethod
    def _unique_added(cls, components: tuple[Component, ...]) -> tuple[Component, ...]:
        _reject_duplicates([component.name for component in components])
        return components

    def matches(self, attributes: Mapping[str, str | None]) -> bool:
        """Whether every `match` attribute equals (or is one of) the account's value."""
        for attribute, accepted in self.match.items():
            value = attributes.get(attribute)
            if value is None:
                return False
            if value not in ((accepted,) if isinstance(accepted, str) else accepted):
                return False
        return True


class MessageVolume(_Frozen):
    """How the number of messages behind sentiment and topic components enters confidence
    and, with `shrink_weights`, the score.

    Such a component counts `n / (n + half_count)` of its weight towards confidence, where `n`
    is the value of `feature` (at least 1 when the component has a value). With
    `shrink_weights` it also carries only that share of its weight in the score: a mean of
    three messages moves the score less than a mean of thirty.
    """

    feature: Name = "message_count_30d"
    half_count: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    shrink_weights: bool = False


class Aggregation(_Frozen):
    """How component points combine into the score (see `scoring.py`).

    `mean`: the weighted arithmetic mean. `power_mean`: the weighted power mean with exponent
    `p` (0 < p < 1), which lets one clearly bad component pull the score down further than
    the arithmetic mean does (a strong warning in one family is not averaged away by the
    others), while staying between the lowest and the highest points and rising with each.
    """

    type: Literal["mean", "power_mean"] = "mean"
    p: float = Field(default=0.25, gt=0, lt=1, allow_inf_nan=False)


class Scorecard(_Frozen):
    """A scoring recipe for one objective (see the module docstring)."""

    id: CardId
    name: Text
    objective: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    description: Text
    bands: tuple[Band, ...] = Field(min_length=1)
    components: tuple[Component, ...] = Field(min_length=1)
    segment_overrides: tuple[SegmentOverride, ...] = ()
    message_volume: MessageVolume | None = MessageVolume()
    aggregation: Aggregation = Aggregation()

    @field_validator("bands")
    @classmethod
    def _bands_descending(cls, bands: tuple[Band, ...]) -> tuple[Band, ...]:
        _reject_duplicates([band.name for band in bands])
        if UNKNOWN_BAND in {band.name for band in bands}:
            raise ValueError(f"'{UNKNOWN_BAND}' is reserved for scores that cannot be computed")
        starts = [band.min_score for band in bands]
        if any(not later < earlier for earlier, later in pairwise(starts)):
            raise ValueError(f"min_score must strictly descend (highest band first), got {starts}")
        if starts[-1] != 0:
            raise ValueError(f"the last band must start at min_score 0, got {starts[-1]}")
        return bands

    @field_validator("components")
    @classmethod
    def _unique_components(cls, components: tuple[Component, ...]) -> tuple[Component, ...]:
        _reject_duplicates([component.name for component in components])
        return components

    @field_validator("segment_overrides")
    @classmethod
    def _overrides_name_known_components(
        cls, overrides: tuple[SegmentOverride, ...], info: ValidationInfo
    ) -> tuple[SegmentOverride, ...]:
        if "components" not in info.data:
            return overrides  # the components themselves failed validation
        components: tuple[Component, ...] = info.data["components"]
        base = {component.name: component for component in components}
        for index, override in enumerate(overrides):
            where = f"[{index}]"
            named: dict[str, Mapping[str, object]] = {
                "weights": override.weights,
                "transforms": override.transforms,
            }
            for field, names in named.items():
                unknown = sorted(set(names) - set(base))
                if unknown:
                    raise ValueError(
                        f"{where}.{field}: unknown component(s) {unknown}; known: {sorted(base)}"
                    )
            for name, transform in override.transforms.items():
                try:
                    check_direction(transform, base[name].direction)
                except ValueError as error:
                    raise ValueError(f"{where}.transforms.{name}: {error}") from None
            clashes = sorted({c.name for c in override.add_components} & set(base))
            if clashes:
                raise ValueError(
                    f"{where}.add_components: {clashes} already exist in components; "
                    "use weights or transforms to change them"
                )
        return overrides


class ResolvedScorecard(_Frozen):
    """A scorecard with the overrides matching one account applied."""

    scorecard_id: str
    name: str
    objective: str
    bands: tuple[Band, ...]
    components: tuple[Component, ...]
    message_volume: MessageVolume | None
    applied_overrides: tuple[str, ...]
    aggregation: Aggregation = Aggregation()


def _reject_duplicates(names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate names: {duplicates}")


def override_label(override: SegmentOverride, index: int) -> str:
    """How an override is named in `applied_overrides`: its name, else its position."""
    return override.name or f"segment_overrides[{index}]"


def resolve_scorecard(
    card: Scorecard, account_attributes: Mapping[str, str | None]
) -> ResolvedScorecard:
    """Apply every segment override whose `match` fits the account, in order (later wins).

    Weights and transforms of base components are replaced; added components are appended
    (an added component with the same name as one added by an earlier override replaces it).
    Attributes are compared exactly (case-sensitive); a missing attribute never matches.
    """
    components: dict[str, Component] = {c.name: c for c in card.components}
    applied: list[str] = []
    for index, override in enumerate(card.segment_overrides):
        if not override.matches(account_attributes):
            continue
        applied.append(override_label(override, index))
        for name, weight in override.weights.items():
            components[name] = components[name].model_copy(update={"weight": weight})
        for name, transform in override.transforms.items():
            components[name] = components[name].model_copy(update={"transform": transform})
        for added in override.add_components:
            components[added.name] = added
    return ResolvedScorecard(
        scorecard_id=card.id,
        name=card.name,
        objective=card.objective,
        bands=card.bands,
        components=tuple(components.values()),
        message_volume=card.message_volume,
        applied_overrides=tuple(applied),
        aggregation=card.aggregation,
    )


def band_for(score: float | None, bands: tuple[Band, ...]) -> str:
    """The first band (highest first) whose `min_score` the score reaches; `unknown` for None."""
    if score is None:
        return UNKNOWN_BAND
    for band in bands:
        if score >= band.min_score:
            return band.name
    return bands[-1].name


# --- serialisation ---------------------------------------------------------------------------


def scorecard_to_dict(card: Scorecard) -> dict[str, Any]:
    """The scorecard as JSON-compatible data (what the storage layer keeps as the body)."""
    return card.model_dump(mode="json")


def scorecard_to_json(card: Scorecard) -> str:
    """The scorecard as indented JSON."""
    return json.dumps(scorecard_to_dict(card), indent=2, ensure_ascii=False) + "\n"


def scorecard_to_yaml(card: Scorecard) -> str:
    """The scorecard as YAML (every field written out, in declaration order)."""
    return yaml.safe_dump(scorecard_to_dict(card), sort_keys=False, allow_unicode=True)


def scorecard_from_text(text: str, *, fmt: Literal["yaml", "json"] = "yaml") -> Scorecard:
    """Parse and validate a scorecard from YAML or JSON text."""
    data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    return Scorecard.model_validate(data)


def load_scorecard(path: Path) -> Scorecard:
    """Read a scorecard file (`.json` as JSON, anything else as YAML)."""
    fmt: Literal["yaml", "json"] = "json" if path.suffix.lower() == ".json" else "yaml"
    return scorecard_from_text(path.read_text(encoding="utf-8"), fmt=fmt)


DEFAULT_SCORECARD_IDS = ("churn_risk", "expansion")  # `defaults/<id>.yaml`


def load_default_scorecards() -> list[Scorecard]:
    """The shipped scorecards from `defaults/` (churn_risk, then expansion)."""
    folder = resources.files("sentiment_service.health").joinpath("defaults")
    return [
        scorecard_from_text(folder.joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
        for name in DEFAULT_SCORECARD_IDS
    ]


# --- change log ------------------------------------------------------------------------------


def scorecard_diff(old: Scorecard, new: Scorecard) -> list[dict[str, Any]]:
    """What changed between two scorecards, as `{"path", "old", "new"}` entries.

    Lists of named items (bands, components, added components, overrides with a name) are
    compared by name, so paths read `components[nps].weight`; an item present on one side only
    has `None` on the other. Other lists (transform steps, match values) are compared whole.
    """
    changes: list[dict[str, Any]] = []
    _diff("", scorecard_to_dict(old), scorecard_to_dict(new), changes)
    return changes


def _named(items: list[Any]) -> dict[str, Any] | None:
    if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        return None
    keyed = {item["name"]: item for item in items}
    return keyed if len(keyed) == len(items) else None


def _diff(path: str, old: Any, new: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(f"{path}.{key}" if path else key, old.get(key), new.get(key), out)
        return
    if isinstance(old, list) and isinstance(new, list) and (old or new):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None:
            for key in [*old_named, *(k for k in new_named if k not in old_named)]:
                _diff(f"{path}[{key}]", old_named.get(key), new_named.get(key), out)
            return
        if all(isinstance(item, dict) for item in [*old, *new]):
            for index in range(max(len(old), len(new))):
                _diff(
                    f"{path}[{index}]",
                    old[index] if index < len(old) else None,
                    new[index] if index < len(new) else None,
                    out,
                )
            return
    if old != new:
        out.append({"path": path, "old": old, "new": new})
