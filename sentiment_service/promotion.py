"""Model promotion: a candidate becomes the default only if, on every stored labelled set, it
is not worse than the current model overall, per class and per source (within a tolerance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from evaluation.runner import run_evaluation
from models.message_sentiment import MessageSentimentScorer
from models.minilm import MessageLevelBackend, MiniLMBackend
from sentiment_service import evaluations
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ModelPromotion

DEFAULT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Check:
    """One comparison of the candidate against the current model."""

    dataset: str
    scope: str  # overall, class or source
    key: str
    current: float
    candidate: float
    ok: bool


def compare_summaries(
    dataset: str, current: dict[str, Any], candidate: dict[str, Any], tolerance: float
) -> list[Check]:
    """Checks of macro-F1 overall, F1 per class and macro-F1 per source."""
    pairs: list[tuple[str, str, float, float]] = [
        ("overall", "macro_f1", current["macro_f1"], candidate["macro_f1"])
    ]
    for label, scores in current["per_class"].items():
        pairs.append(("class", label, scores["f1"], candidate["per_class"][label]["f1"]))
    for source, scores in (current.get("per_source") or {}).items():
        theirs = (candidate.get("per_source") or {}).get(source)
        if theirs is not None:
            pairs.append(("source", source, scores["macro_f1"], theirs["macro_f1"]))
    return [
        Check(dataset, scope, key, float(a), float(b), float(b) >= float(a) - tolerance)
        for scope, key, a, b in pairs
    ]


def decide(checks: list[Check]) -> bool:
    """Promote only with evidence (at least one check) and no failed check."""
    return bool(checks) and all(check.ok for check in checks)


def evaluate_candidate(
    database: Database,
    current: MessageSentimentScorer,
    artifact_dir: Path,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    actor: str,
    exclude: frozenset[str] = frozenset(),
) -> tuple[ModelPromotion, MessageSentimentScorer]:
    """Score current and candidate side by side on every stored set; store runs and decision.

    Sets named in `exclude` are left out: a candidate trained on the `corrections` set cannot
    be judged by it.
    """
    try:
        candidate = MessageSentimentScorer(MiniLMBackend(artifact_dir), current.splitter)
    except Exception as error:
        raise InvalidInputError(
            f"candidate model cannot be loaded: {error}", field="artifact_dir"
        ) from error
    with database.session() as session:
        names = [n for n in evaluations.labelled_set_names(session) if n not in exclude]
        datasets = {name: evaluations.load_labelled_set(session, name) for name in names}
    if not datasets:
        left_out = f" other than {', '.join(sorted(exclude))}" if exclude else ""
        raise InvalidInputError(
            f"no labelled sets{left_out} are stored: upload one before promoting",
            field="artifact_dir",
        )
    checks: list[Check] = []
    runs: dict[str, dict[str, int]] = {}
    with database.session() as session:
        for name, dataset in datasets.items():
            results = {
                role: run_evaluation(MessageLevelBackend(scorer), dataset)
                for role, scorer in (("current", current), ("candidate", candidate))
            }
            runs[name] = {
                role: evaluations.store_run(
                    session, result, dataset_name=name, report_html=None, actor=actor
                ).id
                or 0
                for role, result in results.items()
            }
            checks += compare_summaries(
                name, results["current"].summary, results["candidate"].summary, tolerance
            )
        promotion = ModelPromotion(
            model_name="minilm",
            current_version=current.version,
            candidate_version=candidate.version,
            artifact_dir=str(artifact_dir),
            promoted=decide(checks),
            comparison={
                "tolerance": tolerance,
                "runs": runs,
                "checks": [asdict(check) for check in checks],
            },
            decided_by=actor,
        )
        session.add(promotion)
        session.flush()
    return promotion, candidate


def list_promotions(session: Session) -> list[ModelPromotion]:
    """Every promotion decision, newest first."""
    return list(session.exec(select(ModelPromotion).order_by(col(ModelPromotion.id).desc())).all())


def promoted_artifact(database: Database) -> Path | None:
    """The artifact folder of the newest promoted model, if any was promoted."""
    with database.session() as session:
        return _newest_promoted(session)


def _newest_promoted(session: Session) -> Path | None:
    row = session.exec(
        select(ModelPromotion)
        .where(col(ModelPromotion.promoted).is_(True))
        .order_by(col(ModelPromotion.id).desc())
    ).first()
    return Path(row.artifact_dir) if row is not None else None
