"""Topics: the taxonomy and its versions, topic summaries and evidence, emerging topics,
per-account topics and people's topic corrections. The work is in `topic_insights`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from models.topics.taxonomy import KEY_PATTERN, Taxonomy, TopicDefinition, parse_taxonomy
from pipelines import dates
from sentiment_service import topic_insights as insights
from sentiment_service.accounts import AccountId
from sentiment_service.api.deps import Admin, DatabaseDep, Evaluator, ModelsDep, Reader
from sentiment_service.api.schemas import MAX_ID, Page
from sentiment_service.text_rules import NoNul, StripNul, strip_nul
from sentiment_service.vocabulary import Source

router = APIRouter(prefix="/v1", tags=["topics"])


def _clean_text(value: str) -> str:
    """Free text with NUL characters dropped and whitespace trimmed; blank text is refused."""
    cleaned = strip_nul(value).strip()
    if not cleaned:
        raise PydanticCustomError("blank_text", "must not be blank")
    return cleaned


CleanText = AfterValidator(_clean_text)
Reason = Annotated[
    str,
    StringConstraints(max_length=2000),
    CleanText,
    Field(description="Why the change is made (kept in the change log)."),
]
Example = Annotated[str, StringConstraints(max_length=5000), CleanText]
TopicKey = Annotated[str, Path(pattern=KEY_PATTERN, description="A topic key, e.g. `billing`")]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
Day = Annotated[dates.Day | None, Query(description="A UTC day (YYYY-MM-DD), included")]
Segment = Annotated[
    str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$", description="Segment")
]


class TaxonomyIn(BaseModel):
    """A new taxonomy (the whole document, see `models/topics/default_taxonomy.yaml`)."""

    model_config = ConfigDict(extra="forbid")

    taxonomy: dict[str, Any]
    reason: Reason


class PromoteIn(BaseModel):
    """An emerging cluster's topic seed, as reviewed by a person."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
    ]
    description: Annotated[str, StringConstraints(max_length=1000), CleanText]
    examples: list[Example] = Field(default_factory=list, max_length=200)
    threshold: float | None = Field(None, gt=0.0, lt=1.0)
    reason: Reason


class TopicCorrectionIn(BaseModel):
    """Whether the message is about the topic, in a person's judgement."""

    model_config = ConfigDict(extra="forbid")

    present: bool
    note: Annotated[str, StripNul] | None = Field(None, max_length=2000)


def _nul_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path of the first string (or key) of a JSON document holding a NUL character."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(key, (*path, key)) or _nul_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


def _validated_taxonomy(document: dict[str, Any]) -> Taxonomy:
    """The parsed taxonomy; errors become a 422 naming `taxonomy.<path>` like body errors."""
    nul = _nul_path(document)
    if nul is not None:
        message = "contains a NUL (\\x00) character"
        raise RequestValidationError(
            [{"loc": ("body", "taxonomy", *nul), "msg": message, "type": "nul_character"}]
        )
    try:
        return parse_taxonomy(document)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {"loc": ("body", "taxonomy", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False)
            ]
        ) from error


@router.get("/taxonomy", response_model=insights.TaxonomyOut, summary="The topic taxonomy")
def get_taxonomy(_: Reader, database: DatabaseDep) -> insights.TaxonomyOut:
    """The taxonomy in force; `version` is null while the shipped default is in force."""
    with database.session() as session:
        return insights.taxonomy_view(session)


@router.get(
    "/taxonomy/versions",
    response_model=list[insights.TaxonomyVersionOut],
    summary="The taxonomy change log",
)
def get_taxonomy_versions(_: Reader, database: DatabaseDep) -> list[insights.TaxonomyVersionOut]:
    """Every stored version, newest first, with author, reason and the diff it made."""
    with database.session() as session:
        return insights.taxonomy_versions(session)


@router.put(
    "/taxonomy", response_model=insights.TaxonomyPublishedOut, summary="Change the taxonomy"
)
def put_taxonomy(
    body: TaxonomyIn, principal: Admin, database: DatabaseDep
) -> insights.TaxonomyPublishedOut:
    """Publish a new version. New messages use it from the next scoring batch; run
    `sentiment-service retopic` to re-assign stored messages. An unchanged document stores
    nothing (`changed` is false)."""
    taxonomy = _validated_taxonomy(body.taxonomy)
    with database.session() as session:
        return insights.publish_taxonomy(
            session, taxonomy, actor=principal.actor, reason=body.reason
        )


@router.get("/topics", response_model=insights.TopicSummaryOut, summary="Topic summary")
def get_topics(
    principal: Reader,
    database: DatabaseDep,
    start: Day = None,
    end: Day = None,
    segment: Segment = None,
    source: Source | None = None,
) -> insights.TopicSummaryOut:
    """Per topic: mentions, share of analysed messages, mean aspect sentiment, negative share
    and the change against the previous period of equal length; competitor mentions by intent.
    Default period: the 30 days up to the latest customer message. Keys scoped to
    segments/owners get the summary of the accounts in their scope."""
    with database.session() as session:
        period = insights.resolve_period(session, start, end)
        return insights.topic_summary(
            session,
            period,
            segment=segment,
            source=source.value if source is not None else None,
            scope=principal.scope,
        )


@router.get("/topics/emerging", response_model=insights.EmergingOut, summary="Emerging topics")
def get_emerging_topics(
    principal: Reader,
    database: DatabaseDep,
    models: ModelsDep,
    end: Day = None,
    window_days: Annotated[int, Query(ge=1, le=insights.MAX_WINDOW_DAYS)] = 7,
    min_cluster_size: Annotated[int, Query(ge=2, le=1000)] = 5,
    growth_ratio: Annotated[float, Query(gt=0.0, le=1000.0, allow_inf_nan=False)] = 2.0,
) -> insights.EmergingOut:
    """Clusters of customer messages that fit no topic, in the `window_days` ending on `end`
    (default: the latest message day), that grew by `growth_ratio` against the window before.
    At most 5,000 messages per window are considered (the newest). Keys scoped to
    segments/owners cluster only the messages of accounts in their scope."""
    return insights.emerging_topics(
        database,
        models,
        end=end,
        window_days=window_days,
        min_cluster_size=min_cluster_size,
        growth_ratio=growth_ratio,
        scope=principal.scope,
    )


@router.post(
    "/topics/emerging/promote",
    response_model=insights.TaxonomyPublishedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add an emerging topic to the taxonomy",
)
def promote_emerging_topic(
    body: PromoteIn, principal: Admin, database: DatabaseDep
) -> insights.TaxonomyPublishedOut:
    """Append the topic to the taxonomy in force as a new version (409 if the key exists)."""
    topic = TopicDefinition(
        key=body.key,
        name=body.name,
        description=body.description,
        examples=tuple(body.examples),
        threshold=body.threshold,
    )
    with database.session() as session:
        return insights.promote_topic(session, topic, actor=principal.actor, reason=body.reason)


@router.get(
    "/topics/{key}/messages",
    response_model=Page[insights.TopicMessageOut],
    summary="Messages about a topic (evidence)",
)
def get_topic_messages(
    key: TopicKey,
    principal: Reader,
    database: DatabaseDep,
    start: Day = None,
    end: Day = None,
    account_id: Annotated[AccountId | None, Query()] = None,
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[insights.TopicMessageOut]:
    """Customer messages carrying the topic, newest first, with the sentence behind it (of
    the accounts in the key's scope, for keys scoped to segments/owners)."""
    with database.session() as session:
        items, next_cursor = insights.topic_messages(
            session,
            key,
            start=start,
            end=end,
            account_id=account_id,
            cursor=cursor,
            limit=limit,
            scope=principal.scope,
        )
    return Page[insights.TopicMessageOut](items=items, next_cursor=next_cursor)


@router.get(
    "/accounts/{account_id}/topics",
    response_model=insights.AccountTopicsOut,
    summary="An account's topics, competitors and keyphrases",
)
def get_account_topics(
    account_id: AccountId,
    principal: Reader,
    database: DatabaseDep,
    models: ModelsDep,
    start: Day = None,
    end: Day = None,
) -> insights.AccountTopicsOut:
    """The account's topics with their latest evidence, its competitor mentions and the
    phrases typical of it against the other accounts (c-TF-IDF over at most 500 messages per
    account and 5,000 in all)."""
    return insights.account_topics(
        database, models, account_id, start=start, end=end, scope=principal.scope
    )


@router.put(
    "/messages/{message_id}/topics/{topic}",
    response_model=insights.TopicCorrectionOut,
    summary="Correct a message's topic",
)
def put_topic_correction(
    message_id: MessageId,
    topic: Annotated[str, Path(pattern=KEY_PATTERN, description="A topic of the taxonomy")],
    body: TopicCorrectionIn,
    principal: Evaluator,
    database: DatabaseDep,
) -> insights.TopicCorrectionOut:
    """Say whether the message is about the topic; the newest correction counts."""
    with database.session() as session:
        return insights.correct_topic(
            session,
            message_id,
            topic,
            present=body.present,
            note=body.note,
            actor=principal.actor,
        )


@router.get(
    "/messages/{message_id}/topics",
    response_model=insights.MessageTopicsOut,
    summary="A message's topics and corrections",
)
def get_message_topics(
    message_id: MessageId, principal: Reader, database: DatabaseDep
) -> insights.MessageTopicsOut:
    """The model's topics and competitor mentions of the message, the corrections in force
    and the topics that result from both."""
    with database.session() as session:
        return insights.message_topics(session, message_id, principal.scope)
