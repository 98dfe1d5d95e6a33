"""Scorecard versions in storage: the shipped defaults, the versions in force, new versions
and drafts (in the versioned config store, kind `SCORECARD_KIND`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from sentiment_service import config_store
from sentiment_service.health.scorecard import (
    DEFAULT_SCORECARD_IDS,
    Scorecard,
    load_default_scorecards,
    scorecard_diff,
    scorecard_to_dict,
)

SCORECARD_KIND = "scorecard"
SYSTEM_AUTHOR = "system"


@dataclass(frozen=True)
class VersionedScorecard:
    """A scorecard and the version number it is stored under."""

    card: Scorecard
    version: int

    @property
    def positive_outcome(self) -> str:
        """The outcome a backtest predicts: churn for churn_risk, expansion otherwise."""
        return "churned" if self.card.objective == "churn_risk" else "expanded"

    @property
    def flag_bands(self) -> tuple[str, ...]:
        """Bands that flag an account for action (the lowest band for churn, highest else)."""
        bands = self.card.bands
        return (bands[-1].name,) if self.card.objective == "churn_risk" else (bands[0].name,)

    @property
    def lower_is_riskier(self) -> bool:
        """For churn_risk a low health score predicts the outcome; for expansion a high one."""
        return self.card.objective == "churn_risk"


# --- scorecard versions -------------------------------------------------------------------


def ensure_default_scorecards(session: Session) -> None:
    """Store the shipped scorecards as version 1 when no version of them exists yet (their
    files are parsed only then: reads call this on every request)."""
    known = set(config_store.keys(session, SCORECARD_KIND))
    if known.issuperset(DEFAULT_SCORECARD_IDS):
        return
    for card in load_default_scorecards():
        if card.id not in known:
            config_store.save_version(
                session,
                kind=SCORECARD_KIND,
                key=card.id,
                body=scorecard_to_dict(card),
                author=SYSTEM_AUTHOR,
                reason="shipped default",
            )


def active_scorecards(session: Session) -> list[VersionedScorecard]:
    """Every scorecard's published version in force."""
    ensure_default_scorecards(session)
    latest = config_store.latest_of_keys(session, SCORECARD_KIND)
    return [
        VersionedScorecard(Scorecard.model_validate(latest[key].body), latest[key].version)
        for key in sorted(latest)
    ]


def get_scorecard(
    session: Session, card_id: str, version: int | None = None
) -> VersionedScorecard | None:
    """A scorecard version (default: the published one in force)."""
    ensure_default_scorecards(session)
    stored = (
        config_store.get_version(session, SCORECARD_KIND, card_id, version)
        if version is not None
        else config_store.latest(session, SCORECARD_KIND, card_id)
    )
    if stored is None:
        return None
    return VersionedScorecard(Scorecard.model_validate(stored.body), stored.version)


def save_scorecard(
    session: Session, card: Scorecard, *, author: str, reason: str, draft: bool = False
) -> VersionedScorecard:
    """Store a new version of a scorecard (published, or a draft that is not in force)."""
    ensure_default_scorecards(session)
    current = get_scorecard(session, card.id)
    stored = config_store.save_version(
        session,
        kind=SCORECARD_KIND,
        key=card.id,
        body=scorecard_to_dict(card),
        author=author,
        reason=reason,
        status=config_store.DRAFT if draft else config_store.PUBLISHED,
    )
    if current is not None:
        stored.diff = scorecard_diff(current.card, card)
        session.add(stored)
    return VersionedScorecard(card, stored.version)


def without_kinds(card: Scorecard, kinds: set[str], suffix: str) -> Scorecard:
    """A variant of a scorecard without components of the given kinds (e.g. sentiment-free)."""
    body = scorecard_to_dict(card)
    body["id"] = f"{card.id}_{suffix}"
    body["name"] = f"{card.name} ({suffix.replace('_', ' ')})"
    body["components"] = [c for c in body["components"] if c["kind"] not in kinds]
    for override in body.get("segment_overrides", []):
        names = {c["name"] for c in body["components"]}
        override["weights"] = {k: v for k, v in override.get("weights", {}).items() if k in names}
        override["transforms"] = {
            k: v for k, v in override.get("transforms", {}).items() if k in names
        }
        override["add_components"] = [
            c for c in override.get("add_components", []) if c["kind"] not in kinds
        ]
    return Scorecard.model_validate(body)
