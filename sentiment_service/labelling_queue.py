"""The labelling queue: messages the current model is least sure about, for people to label.

Uncertainty is the margin between the two highest calibrated probabilities of the stored score
under the active model version (0: a coin toss between two labels). The database returns the
`POOL_FACTOR * limit` smallest margins among scored messages nobody has labelled yet; then a
greedy pass keeps the queue diverse:

- a text nearly identical to one already picked (same words once case, punctuation, numbers
  and links are ignored, word-set Jaccard >= NEAR_DUPLICATE_JACCARD) is skipped;
- each pick from the same account adds ACCOUNT_PENALTY, and from the same source
  SOURCE_PENALTY, to a candidate's margin when choosing the next one, so one noisy account or
  channel does not fill the queue.

With distinct accounts and sources the order is exactly smallest margin first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists
from sqlmodel import Session, col, select

from pipelines.queue import active_version
from sentiment_service.storage.tables import LabelCorrection, Message, MessageScore

POOL_FACTOR = 20
MAX_POOL = 5000
ACCOUNT_PENALTY = 0.1
SOURCE_PENALTY = 0.05
NEAR_DUPLICATE_JACCARD = 0.8

_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Candidate:
    """A scored, unlabelled message and how unsure the model is about it."""

    message_id: int
    account_id: str | None
    source: str
    text: str
    created_at: datetime
    label: str
    probabilities: dict[str, float]
    margin: float


def margin(probabilities: dict[str, float]) -> float:
    """The top probability minus the second one."""
    top = sorted(probabilities.values(), reverse=True)
    return top[0] - top[1] if len(top) > 1 else top[0]


def word_set(text: str) -> frozenset[str]:
    """The words of a text, ignoring case, accents' width forms, numbers, links, punctuation."""
    normal = unicodedata.normalize("NFKC", _LINK.sub(" ", text)).casefold()
    return frozenset(_WORD.findall(normal))


def near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two word sets are (nearly) the same text."""
    if not a and not b:
        return True
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


def pick_diverse(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """Up to `limit` candidates, smallest (penalised) margin first, without near-duplicates."""
    remaining = sorted(candidates, key=lambda c: (c.margin, c.message_id))
    words = {c.message_id: word_set(c.text) for c in remaining}
    picked: list[Candidate] = []
    per_account: dict[str | None, int] = {}
    per_source: dict[str, int] = {}
    while remaining and len(picked) < limit:
        best = min(
            remaining,
            key=lambda c: (
                c.margin
                + ACCOUNT_PENALTY * per_account.get(c.account_id, 0)
                + SOURCE_PENALTY * per_source.get(c.source, 0),
                c.margin,
                c.message_id,
            ),
        )
        remaining.remove(best)
        if any(near_duplicate(words[best.message_id], words[p.message_id]) for p in picked):
            continue
        picked.append(best)
        per_account[best.account_id] = per_account.get(best.account_id, 0) + 1
        per_source[best.source] = per_source.get(best.source, 0) + 1
    return picked


def candidates(session: Session, version: str, pool: int) -> list[Candidate]:
    """The `pool` scored messages with the smallest margins under `version`, unlabelled."""
    a, b, c = (
        col(MessageScore.p_negative),
        col(MessageScore.p_neutral),
        col(MessageScore.p_positive),
    )
    high = case((and_(a >= b, a >= c), a), (b >= c, b), else_=c)
    low = case((and_(a <= b, a <= c), a), (b <= c, b), else_=c)
    gap = 2 * high + low - (a + b + c)  # top minus middle
    labelled = exists().where(col(LabelCorrection.message_id) == col(Message.id))
    rows = session.exec(
        select(Message, MessageScore, gap)
        .join(MessageScore, col(MessageScore.message_id) == col(Message.id))
        .where(
            MessageScore.model_version == version,
            MessageScore.status == "scored",
            a.is_not(None),
            b.is_not(None),
            c.is_not(None),
            col(Message.duplicate_of).is_(None),
            ~labelled,
        )
        .order_by(gap, col(Message.id))
        .limit(pool)
    ).all()
    out = []
    for message, score, _ in rows:
        probabilities = {
            "negative": float(score.p_negative or 0.0),
            "neutral": float(score.p_neutral or 0.0),
            "positive": float(score.p_positive or 0.0),
        }
        out.append(
            Candidate(
                message_id=message.id or 0,
                account_id=message.account_id,
                source=message.source,
                text=message.text,
                created_at=message.created_at,
                label=score.label or max(probabilities, key=lambda k: probabilities[k]),
                probabilities=probabilities,
                margin=round(margin(probabilities), 6),
            )
        )
    return out


def labelling_queue(session: Session, limit: int) -> tuple[str | None, list[Candidate]]:
    """(active model version, up to `limit` diverse least-sure messages); none when nothing
    is scored yet."""
    version = active_version(session)
    if version is None:
        return None, []
    pool = min(MAX_POOL, max(limit * POOL_FACTOR, 200))
    return version, pick_diverse(candidates(session, version, pool), limit)
