"""The topic summary page (`/topics`) and the emerging topics it loads lazily."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sentiment_service import topic_insights as insights
from sentiment_service.api.deps import DatabaseDep, ModelsDep
from sentiment_service.dashboard.access import User, blank
from sentiment_service.dashboard.rendering import is_htmx, render
from sentiment_service.dashboard.views import topics as topic_views
from sentiment_service.errors import NotReadyError, ServiceError
from sentiment_service.vocabulary import Source

router = APIRouter(include_in_schema=False)


@router.get("/topics")
def topics_page(
    request: Request,
    user: User,
    database: DatabaseDep,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The topic summary; emerging topics load lazily."""
    chosen_segment = blank(segment)
    chosen_source = blank(source)
    if chosen_source not in {s.value for s in Source}:
        chosen_source = None
    with database.session() as session:
        summary = topic_views.topic_summary(
            session, segment=chosen_segment, source=chosen_source, scope=user.scope
        )
        segments = topic_views.segments(session, user.scope)
    return render(
        request,
        "topics.html",
        {
            "summary": summary,
            "segments": segments,
            "sources": [s.value for s in Source],
            "filters": {"segment": chosen_segment, "source": chosen_source},
            "nav": "topics",
        },
        user=user,
    )


@router.get("/topics/emerging")
def emerging_page(
    request: Request, user: User, database: DatabaseDep, models: ModelsDep
) -> Response:
    """Emerging topics (clustering can take seconds: the topic page loads this lazily)."""
    result, error = None, None
    try:
        result = insights.emerging_topics(
            database,
            models,
            end=None,
            window_days=7,
            min_cluster_size=5,
            growth_ratio=2.0,
            scope=user.scope,
        )
    except NotReadyError as problem:
        error = f"The topic models are not available: {problem.detail}"
    except ServiceError as problem:
        error = problem.detail
    context = {"result": result, "error": error, "nav": "topics"}
    name = "_emerging.html" if is_htmx(request) else "emerging.html"
    return render(request, name, context, user=user)
