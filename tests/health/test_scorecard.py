"""Scorecard validation, serialisation, segment resolution, diff and the shipped defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from sentiment_service.health.scorecard import (
    DEFAULT_SCORECARD_IDS,
    Scorecard,
    band_for,
    load_default_scorecards,
    load_scorecard,
    resolve_scorecard,
    scorecard_diff,
    scorecard_from_text,
    scorecard_to_json,
    scorecard_to_yaml,
)
from tests.health.builders import BANDS, card, component, scorecards

TOPICS = [
    "billing",
    "outage",
    "performance",
    "bugs",
    "feature_request",
    "onboarding",
    "support_experience",
    "integrations",
    "security",
    "renewal",
    "competitor",
    "account_management",
    "usability",
    "reporting",
    "praise",
]
KNOWN_FEATURES = {
    "sentiment_mean_30d",
    "sentiment_mean_90d",
    "sentiment_trend_30d",
    "negative_share_30d",
    "positive_share_30d",
    "sentiment_last_10",
    "message_count_30d",
    "days_since_last_message",
    "source_coverage_90d",
    "competitor_mentions_90d",
    "competitor_evaluating_90d",
    "seat_utilisation",
    *(f"topic_{key}_{what}_30d" for key in TOPICS for what in ("share", "sentiment")),
    *(
        f"metric_{name}{suffix}"
        for name in ("logins", "seats_used", "seats_purchased", "tickets_opened", "nps")
        for suffix in ("", "_change_30d")
    ),
    "metric_invoices_overdue",
    "metric_invoices_overdue_change_30d",
}


def _locations(error: ValidationError) -> list[str]:
    return [".".join(str(part) for part in item["loc"]) for item in error.errors()]


def _invalid(body_changes: dict[str, Any], components: list[dict[str, Any]] | None = None) -> str:
    with pytest.raises(ValidationError) as raised:
        card(components or [component("a"), component("b")], **body_changes)
    return " | ".join(
        f"{loc}: {e['msg']}"
        for loc, e in zip(_locations(raised.value), raised.value.errors(), strict=True)
    )


def test_validation_errors_name_the_field() -> None:
    assert re.search(
        r"components\.1\.weight: .*greater than 0",
        _invalid({}, [component("a"), component("b", weight=0)]),
    )
    assert "components: Value error, duplicate names: ['a']" in _invalid(
        {}, [component("a"), component("a")]
    )
    descending = _invalid(
        {"bands": [{"name": "low", "min_score": 0}, {"name": "high", "min_score": 70}]}
    )
    assert descending.startswith("bands: ") and "strictly descend" in descending
    assert "last band must start at min_score 0" in _invalid(
        {"bands": [{"name": "x", "min_score": 10}]}
    )
    unknown = _invalid(
        {"segment_overrides": [{"match": {"segment": "smb"}, "weights": {"nope": 2}}]}
    )
    assert (
        unknown.startswith("segment_overrides: ")
        and "[0].weights: unknown component(s) ['nope']" in unknown
    )
    negative = _invalid(
        {"segment_overrides": [{"match": {"segment": "smb"}, "weights": {"a": -1}}]}
    )
    assert "segment_overrides.0.weights.a" in negative
    clash = _invalid(
        {"segment_overrides": [{"match": {"segment": "smb"}, "add_components": [component("a")]}]}
    )
    assert "[0].add_components: ['a'] already exist" in clash
    assert "id:" in _invalid({"id": "Not A Slug"})
    assert "components.0.transform.min_max" in _invalid(
        {}, [component("a", transform={"type": "min_max", "lo": 1, "hi": 1})]
    )
    assert "components.0.transform" in _invalid({}, [component("a", transform={"type": "spline"})])
    bad_bands = {"type": "bands", "steps": [[0, 10], [1, 90]], "above": 100}
    contradiction = _invalid({}, [component("a", transform=bad_bands, direction="lower_is_better")])
    assert contradiction.startswith("components.0: ") and "must not increase" in contradiction
    decay = _invalid({}, [component("a", transform={"type": "decay", "half_life_days": 7})])
    assert "lower_is_better" in decay
    override_decay = _invalid(
        {
            "segment_overrides": [
                {
                    "match": {"tier": "gold"},
                    "transforms": {"a": {"type": "decay", "half_life_days": 3}},
                }
            ]
        }
    )
    assert "[0].transforms.a: a decay transform" in override_decay
    assert "components.0.colour" in _invalid({}, [component("a", colour="red")])


def test_unknown_band_name_is_reserved() -> None:
    assert "reserved" in _invalid({"bands": [{"name": "unknown", "min_score": 0}]})


@settings(max_examples=40, deadline=None)
@given(scorecards())
def test_yaml_and_json_round_trip(scorecard: Scorecard) -> None:
    assert scorecard_from_text(scorecard_to_yaml(scorecard)) == scorecard
    assert scorecard_from_text(scorecard_to_json(scorecard), fmt="json") == scorecard


def test_files_load_by_suffix(tmp_path: Path) -> None:
    default = load_default_scorecards()[0]
    (tmp_path / "c.json").write_text(scorecard_to_json(default))
    (tmp_path / "c.yml").write_text(scorecard_to_yaml(default))
    assert load_scorecard(tmp_path / "c.json") == default == load_scorecard(tmp_path / "c.yml")


def _overlapping() -> Scorecard:
    return card(
        [component("a"), component("b"), component("c")],
        segment_overrides=[
            {
                "name": "health",
                "match": {"industry": ["healthcare", "fintech"]},
                "weights": {"a": 2, "b": 5},
            },
            {
                "name": "smb",
                "match": {"segment": "smb"},
                "weights": {"a": 3},
                "transforms": {"c": {"type": "min_max", "lo": 0, "hi": 2}},
                "add_components": [
                    component("d", feature="topic_security_share_30d", kind="topic")
                ],
            },
            {
                "match": {"segment": "smb", "industry": "healthcare"},
                "add_components": [component("d", weight=9)],
            },
        ],
    )


def test_resolve_applies_matching_overrides_in_order() -> None:
    scorecard = _overlapping()
    weights = lambda resolved: {c.name: c.weight for c in resolved.components}  # noqa: E731
    plain = resolve_scorecard(scorecard, {"industry": "retail", "segment": "enterprise"})
    assert plain.applied_overrides == () and weights(plain) == {"a": 1, "b": 1, "c": 1}
    fintech_smb = resolve_scorecard(scorecard, {"industry": "fintech", "segment": "smb"})
    assert fintech_smb.applied_overrides == ("health", "smb")
    assert weights(fintech_smb) == {"a": 3, "b": 5, "c": 1, "d": 1}  # later override wins for a
    assert fintech_smb.components[2].transform.hi == 2
    everything = resolve_scorecard(scorecard, {"industry": "healthcare", "segment": "smb"})
    assert everything.applied_overrides == ("health", "smb", "segment_overrides[2]")
    assert weights(everything)["d"] == 9  # the later added component replaced the earlier one
    no_industry = resolve_scorecard(scorecard, {"segment": "smb", "industry": None})
    assert no_industry.applied_overrides == ("smb",)
    assert scorecard.components[0].weight == 1  # the card itself is untouched


def test_diff_reports_paths_by_name() -> None:
    old = _overlapping()
    body = old.model_dump(mode="json")
    body["components"][1]["weight"] = 4
    body["components"][2]["transform"] = {"type": "bands", "steps": [[0.5, 20]], "above": 80}
    body["components"].append(component("e"))
    body["bands"][0]["min_score"] = 75
    body["segment_overrides"][0]["match"]["industry"] = ["healthcare"]
    del body["components"][0]
    del body["segment_overrides"][0]["weights"]["a"]
    del body["segment_overrides"][1]["weights"]["a"]
    body["segment_overrides"] = body["segment_overrides"][:2]
    new = Scorecard.model_validate(body)
    changes = {
        change["path"]: (change["old"], change["new"]) for change in scorecard_diff(old, new)
    }
    assert changes.pop("bands[healthy].min_score") == (70, 75)
    assert changes.pop("components[b].weight") == (1, 4)
    assert changes.pop("components[c].transform.type") == ("min_max", "bands")
    assert changes.pop("components[c].transform.lo") == (0, None)
    assert changes.pop("components[c].transform.steps") == (None, [[0.5, 20]])
    removed_a = changes.pop("components[a]")
    assert removed_a[0]["name"] == "a" and removed_a[1] is None
    assert changes.pop("components[e]")[0] is None
    assert changes.pop("segment_overrides[0].match.industry") == (
        ["healthcare", "fintech"],
        ["healthcare"],
    )
    assert changes.pop("segment_overrides[2]")[1] is None
    assert changes.pop("segment_overrides[0].weights.a") == (2, None)
    assert changes.pop("segment_overrides[1].weights.a") == (3, None)
    assert set(changes) == {
        "components[c].transform.hi",
        "components[c].transform.floor",
        "components[c].transform.cap",
        "components[c].transform.above",
    }
    assert scorecard_diff(old, old) == []


def test_band_for() -> None:
    bands = card([component("a")]).bands
    assert [band_for(s, bands) for s in (100, 70, 69.9, 40, 0, None)] == [
        "healthy",
        "healthy",
        "neutral",
        "neutral",
        "at_risk",
        "unknown",
    ]
    assert [b["name"] for b in BANDS] == [b.name for b in bands]


def test_defaults_load_and_use_known_features() -> None:
    churn, expansion = load_default_scorecards()
    assert (churn.objective, expansion.objective) == ("churn_risk", "expansion")
    assert [b.name for b in churn.bands] == ["healthy", "neutral", "at_risk"]
    assert [b.name for b in expansion.bands] == ["likely", "possible", "unlikely"]
    for scorecard in (churn, expansion):
        assert 6 <= len(scorecard.components) <= 10
        assert {c.kind for c in scorecard.components} == {"metric", "sentiment", "topic"}
        added = [c for o in scorecard.segment_overrides for c in o.add_components]
        for item in [*scorecard.components, *added]:
            assert item.feature in KNOWN_FEATURES, item.feature
            assert item.evidence == (item.kind != "metric")
        assert scorecard.message_volume is not None
        assert scorecard.message_volume.feature in KNOWN_FEATURES
    features = {c.feature for c in churn.components}
    assert {
        "topic_billing_share_30d",
        "topic_outage_share_30d",
        "competitor_mentions_90d",
    } <= features
    healthcare = resolve_scorecard(churn, {"industry": "healthcare", "segment": "smb"})
    assert healthcare.applied_overrides == ("regulated_industries_security", "smb_light_nps")
    assert {c.name: c.weight for c in healthcare.components}["nps"] == 0.5
    assert "topic_security_share_30d" in {c.feature for c in healthcare.components}


def test_defaults_readme_names_every_component() -> None:
    readme = (Path(__file__).parents[2] / "sentiment_service/health/defaults/README.md").read_text()
    for scorecard in load_default_scorecards():
        added = [c for o in scorecard.segment_overrides for c in o.add_components]
        for item in [*scorecard.components, *added]:
            assert item.label in readme, item.label


def test_default_scorecard_ids_name_their_files() -> None:
    # ensure_default_scorecards parses the files only when one of these ids is not stored
    assert tuple(card.id for card in load_default_scorecards()) == DEFAULT_SCORECARD_IDS
