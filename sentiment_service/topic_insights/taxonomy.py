"""Topic insights: the taxonomy in force, its change log, publishing and promoting topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from models.topics.taxonomy import Taxonomy, TopicDefinition, parse_taxonomy
from pipelines.topics import TAXONOMY_KEY, TAXONOMY_KIND, active_taxonomy
from sentiment_service import config_store
from sentiment_service.audit import record_change
from sentiment_service.errors import ConflictError, InvalidInputError

RETOPIC_NOTE = (
    "New messages are assigned topics with this taxonomy from the next scoring batch; run "
    "`sentiment-service retopic` to re-assign the messages already stored."
)


class TaxonomyOut(BaseModel):
    """The taxonomy in force: its version (None for the shipped default) and content."""

    version: int | None
    taxonomy: dict[str, Any]
    sha256: str


class TaxonomyVersionOut(BaseModel):
    """One entry of the taxonomy change log."""

    version: int
    status: str
    author: str
    reason: str
    created_at: datetime
    sha256: str
    diff: list[dict[str, Any]]


class TaxonomyPublishedOut(TaxonomyOut):
    """The outcome of a taxonomy change."""

    changed: bool
    changes: list[dict[str, Any]]
    note: str


def taxonomy_view(session: Session) -> TaxonomyOut:
    """The taxonomy in force."""
    taxonomy, version = active_taxonomy(session)
    return TaxonomyOut(
        version=version, taxonomy=taxonomy.model_dump(mode="json"), sha256=taxonomy.sha256()
    )


def taxonomy_versions(session: Session) -> list[TaxonomyVersionOut]:
    """Every stored taxonomy version, newest first, with its author, reason and diff."""
    return [
        TaxonomyVersionOut(
            version=row.version,
            status=row.status,
            author=row.author,
            reason=row.reason,
            created_at=row.created_at,
            sha256=row.body_sha256,
            diff=list(row.diff or []),
        )
        for row in config_store.history(session, TAXONOMY_KIND, TAXONOMY_KEY)
    ]


def publish_taxonomy(
    session: Session, taxonomy: Taxonomy, *, actor: str, reason: str
) -> TaxonomyPublishedOut:
    """Store `taxonomy` as the new published version (nothing when it equals the one in force).

    The stored body is the normalised document (defaults filled in), so diffs between versions
    show only real changes. `config_store` writes the audit entry.
    """
    current, _ = active_taxonomy(session)
    body = taxonomy.model_dump(mode="json")
    changes = config_store.json_diff(current.model_dump(mode="json"), body)
    stored = config_store.save_version(
        session, kind=TAXONOMY_KIND, key=TAXONOMY_KEY, body=body, author=actor, reason=reason
    )
    return TaxonomyPublishedOut(
        version=stored.version,
        taxonomy=body,
        sha256=taxonomy.sha256(),
        changed=bool(changes),
        changes=changes,
        note=RETOPIC_NOTE,
    )


def promote_topic(
    session: Session, topic: TopicDefinition, *, actor: str, reason: str
) -> TaxonomyPublishedOut:
    """Append `topic` to the base topics of the taxonomy in force, as a new version.

    Raises ConflictError (409) when a base or segment topic already has its key.
    """
    current, version = active_taxonomy(session)
    if topic.key in {existing.key for existing in current.all_topics()}:
        raise ConflictError(f"the taxonomy already has a topic '{topic.key}'", field="key")
    document = current.model_dump(mode="json")
    document["topics"].append(topic.model_dump(mode="json"))
    try:
        taxonomy = parse_taxonomy(document)
    except ValidationError as error:
        raise InvalidInputError(
            f"the topic does not fit the taxonomy: {error.errors()[0]['msg']}", field="key"
        ) from error
    published = publish_taxonomy(session, taxonomy, actor=actor, reason=reason)
    record_change(
        session,
        actor=actor,
        action="topic.promote",
        entity_type="topic",
        entity_id=topic.key,
        before={"taxonomy_version": version},
        after={"taxonomy_version": published.version, "topic": topic.model_dump(mode="json")},
    )
    return published


def topic_names(taxonomy: Taxonomy) -> dict[str, str]:
    """Display name of every topic key of a taxonomy (segment topics included)."""
    return {topic.key: topic.name for topic in taxonomy.all_topics()}
