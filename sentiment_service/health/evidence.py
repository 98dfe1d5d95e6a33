"""The read side behind stored scores: the messages that are evidence for a component,
the channels of an account that went dark, and drift of component points and of the
sentiment model's labels."""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Boolean, String, bindparam, case, cast, func, literal, not_, null, union_all
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from pipelines.features import SIGNAL_ROLES
from pipelines.queue import ACTIVE_VERSION_KEY, active_version
from sentiment_service.health.drift import (
    DarkSource,
    LabelDrift,
    dark_sources,
    drift_status,
    label_drift,
    population_stability_index,
)
from sentiment_service.health.scoring import ComponentScore
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    CompetitorMention,
    HealthScoreRecord,
    Message,
    MessageScore,
    MessageTopic,
    PipelineState,
)

EVIDENCE_PER_COMPONENT = 3
QUOTE_CHARS = 280


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def evidence_for(
    session: Session, account_id: str, component: ComponentScore, as_of: datetime
) -> list[dict[str, Any]]:
    """Messages behind a sentiment, topic or competitor component, worst first when the
    component pulls the score down and best first otherwise."""
    return evidence_of_components(session, account_id, [(component, as_of)])[0]


def evidence_of_components(
    session: Session, account_id: str, wanted: Sequence[tuple[ComponentScore, datetime]]
) -> list[list[dict[str, Any]]]:
    """`evidence_for` each (component, as_of) pair, all read in one statement: one ranked,
    limited sub-query per component, joined by UNION ALL. The statement is built once per
    sequence of component kinds (`_evidence_statement`); everything that differs between
    accounts and components is a bound parameter."""
    if not wanted:
        return []
    kinds = tuple(_kind(component) for component, _ in wanted)
    params: dict[str, Any] = {"account_id": account_id}
    for index, ((component, as_of), kind) in enumerate(zip(wanted, kinds, strict=True)):
        window = timedelta(days=90 if "90d" in component.feature else 30)
        params[f"start_{index}"] = as_of - window
        params[f"end_{index}"] = as_of
        params[f"hurting_{index}"] = (
            component.transformed is not None and component.transformed < 50
        )
        if kind == "topic":
            params[f"topic_{index}"] = _topic_of(component)
    rows = session.execute(_evidence_statement(kinds), params).all()
    found: list[list[dict[str, Any]]] = [[] for _ in wanted]
    for row in rows:
        found[row.part].append(_evidence_row(row, wanted[row.part][0]))
    return found


EvidenceKind = Literal["competitor", "topic", "sentiment"]


def _kind(component: ComponentScore) -> EvidenceKind:
    if component.feature.startswith("competitor_"):
        return "competitor"
    if component.feature.startswith("topic_"):
        return "topic"
    return "sentiment"


def _topic_of(component: ComponentScore) -> str:
    return component.feature.removeprefix("topic_").rsplit("_", 2)[0]


@functools.lru_cache(maxsize=64)
def _evidence_statement(kinds: tuple[EvidenceKind, ...]) -> Select[*tuple[Any, ...]]:
    """The evidence statement for components of these kinds, in this order. Building it costs
    more CPU than running it (a dozen ranked sub-queries), so it is built once per sequence of
    kinds (a scorecard set gives one) and kept; it holds no values, only bound parameters."""
    parts = [_evidence_part(index, kind) for index, kind in enumerate(kinds)]
    union = union_all(*(select_columns(*part.subquery().c) for part in parts)).subquery()
    return select_columns(*union.c).order_by(union.c.part, union.c.rank)


def _evidence_part(index: int, kind: EvidenceKind) -> Select[*tuple[Any, ...]]:
    """The up to EVIDENCE_PER_COMPONENT messages behind the component at `index`, ranked,
    with the columns every component kind shares (absent ones NULL). Its account, window,
    topic and whether it hurts (worst first) are bound parameters named after `index`."""
    hurting = bindparam(f"hurting_{index}", type_=Boolean)
    base = [
        col(Message.account_id) == bindparam("account_id"),
        col(Message.created_at) > bindparam(f"start_{index}"),
        col(Message.created_at) <= bindparam(f"end_{index}"),
        col(Message.author_role).in_(SIGNAL_ROLES),
    ]
    none: Any = cast(null(), String)
    table: Any
    if kind == "competitor":
        table, quote = CompetitorMention, col(CompetitorMention.evidence)
        order: list[Any] = [col(Message.created_at).desc()]
        extra: list[Any] = [col(CompetitorMention.competitor), col(CompetitorMention.intent)]
    elif kind == "topic":
        table, quote = MessageTopic, col(MessageTopic.evidence)
        # hurting: lowest aspect sentiment first; else newest first
        order = [
            case((hurting, col(MessageTopic.score))).asc(),
            case((not_(hurting), col(Message.created_at))).desc(),
        ]
        extra = [none, none]
        base.append(col(MessageTopic.topic) == bindparam(f"topic_{index}"))
    else:
        table, quote = MessageScore, col(Message.text)
        # hurting: lowest score first; else highest first
        order = [case((hurting, col(MessageScore.score)), else_=-col(MessageScore.score)).asc()]
        extra = [none, none]
        version = select(PipelineState.value).where(PipelineState.key == ACTIVE_VERSION_KEY)
        base += [
            col(MessageScore.model_version) == func.coalesce(version.scalar_subquery(), ""),
            col(MessageScore.score).is_not(None),
        ]
    ranking = (*order, col(Message.id))
    return (
        select_columns(
            literal(index).label("part"),
            func.row_number().over(order_by=ranking).label("rank"),
            col(Message.id).label("message_id"),
            col(Message.source).label("source"),
            col(Message.created_at).label("created_at"),
            col(Message.language).label("language"),
            quote.label("quote"),
            col(table.score).label("score"),
            col(table.label).label("label"),
            extra[0].label("competitor"),
            extra[1].label("intent"),
        )
        .join(table, col(table.message_id) == col(Message.id))
        .where(*base)
        .order_by(*ranking)
        .limit(EVIDENCE_PER_COMPONENT)
    )


def _evidence_row(row: Any, component: ComponentScore) -> dict[str, Any]:
    """One quoted message, shaped as the component kind quotes it."""
    if component.feature.startswith("competitor_"):
        extra: dict[str, Any] = {"competitor": row.competitor, "intent": row.intent}
    elif component.feature.startswith("topic_"):
        extra = {"topic": _topic_of(component)}
    else:
        extra = {}
    return {
        "message_id": row.message_id,
        "source": row.source,
        "created_at": row.created_at.isoformat(),
        "quote": _quote(row.quote),
        "sentiment_score": round(row.score, 3) if row.score is not None else None,
        "sentiment_label": row.label,
        "language": row.language,
        **extra,
    }


def account_dark_sources(
    session: Session, account_id: str, as_of: datetime, *, history_days: int = 180
) -> list[DarkSource]:
    """Channels that used to send data for the account and went quiet (see drift.py)."""
    rows = session.exec(
        select(Message.source, Message.created_at).where(
            Message.account_id == account_id,
            col(Message.author_role).in_(SIGNAL_ROLES),
            col(Message.created_at) <= as_of,
            col(Message.created_at) > as_of - timedelta(days=history_days),
        )
    ).all()
    times: dict[str, list[datetime]] = defaultdict(list)
    for source, created in rows:
        times[source].append(created)
    last_seen: dict[str, datetime | None] = {}
    usual: dict[str, float] = {}
    for source, moments in times.items():
        moments.sort()
        last_seen[source] = moments[-1]
        # The usual gap is measured between days with messages: a call's utterances seconds
        # apart, or a busy ticket thread, must not make a one-day silence look unusual.
        active = sorted({moment.date() for moment in moments})
        gaps = sorted(float((b - a).days) for a, b in itertools.pairwise(active))
        usual[source] = gaps[len(gaps) // 2] if gaps else float(history_days) / 2
    return dark_sources(last_seen, sorted(times), as_of=as_of, usual_gap_days=usual)


def component_drift(
    session: Session, card_id: str, day: date, reference_day: date
) -> list[dict[str, Any]]:
    """PSI of each component's points (and of the score) between two stored scoring days
    (the latest stored day on or before each of `day` and `reference_day`)."""

    def points(on: date) -> dict[str, list[float]]:
        values: dict[str, list[float]] = defaultdict(list)
        for record in session.exec(
            select(HealthScoreRecord).where(
                HealthScoreRecord.scorecard == card_id, HealthScoreRecord.as_of == on
            )
        ).all():
            if record.score is not None:
                values["score"].append(record.score)
            for component in record.explanation.get("components", []):
                if component.get("transformed") is not None and component["status"] == "ok":
                    values[component["name"]].append(component["transformed"])
        return values

    def stored_day(on: date) -> date:
        found = session.exec(
            select(func.max(HealthScoreRecord.as_of)).where(
                HealthScoreRecord.scorecard == card_id, col(HealthScoreRecord.as_of) <= on
            )
        ).one()
        return found or on

    current, reference = points(stored_day(day)), points(stored_day(reference_day))
    report = []
    for name in sorted(
        name for name in set(current) & set(reference) if current[name] and reference[name]
    ):
        psi = population_stability_index(reference[name], current[name])
        report.append(
            {
                "name": name,
                "psi": round(psi, 4),
                "status": drift_status(psi),
                "n_reference": len(reference[name]),
                "n_current": len(current[name]),
            }
        )
    return report


def sentiment_label_drift(session: Session, as_of: datetime) -> LabelDrift | None:
    """The sentiment model's label mix in the last 30 days against the 90 days before (None
    when either period has no scored message)."""
    version = active_version(session) or ""

    def counts(start: datetime, end: datetime) -> dict[str, int]:
        rows = session.exec(
            select(MessageScore.label, func.count())
            .join(Message, col(Message.id) == col(MessageScore.message_id))
            .where(
                MessageScore.model_version == version,
                col(MessageScore.label).is_not(None),
                col(Message.created_at) > start,
                col(Message.created_at) <= end,
            )
            .group_by(MessageScore.label)
        ).all()
        return {label: count for label, count in rows if label}

    split = as_of - timedelta(days=30)
    reference, current = counts(split - timedelta(days=90), split), counts(split, as_of)
    if not reference or not current:
        return None
    return label_drift(reference, current)
