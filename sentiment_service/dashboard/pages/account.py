"""The account page (`/accounts/{id}`): health, evidence, trend, topics and overrides; the
override form (admin), sentiment-label corrections (analyst, admin) and the lazily loaded
keyphrases."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from sentiment_service import topic_insights as insights
from sentiment_service.api.deps import DatabaseDep, ModelsDep
from sentiment_service.auth.permissions import Permission
from sentiment_service.corrections import CorrectionIn, correct_sentiment_label
from sentiment_service.dashboard import charts
from sentiment_service.dashboard.access import (
    FormText,
    PageError,
    User,
    check_csrf,
    not_found,
    require,
)
from sentiment_service.dashboard.rendering import is_htmx, render
from sentiment_service.dashboard.sessions import DashboardUser
from sentiment_service.dashboard.views import account as account_views
from sentiment_service.dashboard.views import topics as topic_views
from sentiment_service.dashboard.views.scores import CardInfo
from sentiment_service.dashboard.views.trend import TrendView, sentiment_trend
from sentiment_service.errors import NotReadyError, ServiceError
from sentiment_service.health.manual_overrides import MAX_OVERRIDE_DAYS, OverrideIn, create_override
from sentiment_service.storage.types import utcnow

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
SLOT = re.compile(r"^[A-Za-z0-9_-]{1,160}$")
LABELS = ("negative", "neutral", "positive")
NOTICES = {
    "override": "Override saved.",
    "label": "Sentiment label correction saved.",
}


router = APIRouter(include_in_schema=False)


@dataclass
class OverrideForm:
    """The override form's values and errors (kept when the input is refused)."""

    scorecard: str = ""
    band: str = ""
    score: str = ""
    reason: str = ""
    expires_on: str = ""
    errors: list[str] | None = None


def _default_override_form(cards: list[CardInfo]) -> OverrideForm:
    expires = (utcnow() + timedelta(days=30)).date().isoformat()
    return OverrideForm(scorecard=cards[0].id if cards else "", expires_on=expires)


def _account_context(
    database: DatabaseDep,
    account_id: str,
    user: DashboardUser,
    *,
    override_form: OverrideForm | None = None,
    notice: str | None = None,
    override_notice: str | None = None,
) -> dict[str, Any]:
    if not ACCOUNT_ID.match(account_id):
        raise not_found(user, f"Account {account_id!r}")
    now = utcnow()
    with database.session() as session:
        view = account_views.account(session, account_id, now, user.scope)
        if view is None:
            raise not_found(user, f"Account {account_id!r}")
        trend = sentiment_trend(session, account_id)
        topics = topic_views.account_topics(session, account_id)
    today = now.date()
    return {
        "view": view,
        "trend": trend,
        "topics": topics,
        "override_form": override_form or _default_override_form(view.cards),
        "notice": notice,
        "override_notice": override_notice,
        "oob": False,
        "trend_chart": _trend_chart(trend),
        "min_expiry": today.isoformat(),
        "max_expiry": (today + timedelta(days=MAX_OVERRIDE_DAYS - 1)).isoformat(),
        "labels": LABELS,
        "nav": "portfolio",
    }


def _trend_chart(trend: TrendView) -> Any:
    if not trend.series:
        return ""
    series = [
        charts.Series(
            name=s.source.replace("_", " "),
            points=list(zip(s.weeks, s.means, strict=True)),
            detail=[f"{n} scored messages" for n in s.counts],
        )
        for s in trend.series
    ]
    return charts.line_chart(
        series,
        title="Weekly customer sentiment by source",
        description=(
            f"Average sentiment per week from {trend.start} to {trend.end}, one line per "
            "source; the same numbers are in the table below the chart."
        ),
        chart_id="trend-chart",
    )


@router.get("/accounts/{account_id}")
def account_page(
    request: Request,
    account_id: str,
    user: User,
    database: DatabaseDep,
    notice: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """One account: health, evidence, trend, topics, overrides."""
    context = _account_context(database, account_id, user, notice=NOTICES.get(notice or ""))
    return render(request, "account.html", context, user=user)


def _parse_override(
    scorecard: str | None,
    band: str | None,
    score: str | None,
    reason: str | None,
    expires_on: str | None,
) -> tuple[OverrideForm, OverrideIn | None]:
    form = OverrideForm(
        scorecard=(scorecard or "").strip(),
        band=(band or "").strip(),
        score=(score or "").strip(),
        reason=(reason or "").strip(),
        expires_on=(expires_on or "").strip(),
        errors=[],
    )
    errors: list[str] = []
    number: float | None = None
    if form.score:
        try:
            number = float(form.score)
        except ValueError:
            errors.append("Score must be a number from 0 to 100.")
    expires_at = None
    try:
        day = date.fromisoformat(form.expires_on)
        expires_at = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        errors.append("Expiry must be a date (YYYY-MM-DD).")
    if not form.score and not form.band:
        errors.append("Give a band, a score or both.")
    if errors:
        form.errors = errors
        return form, None
    try:
        body = OverrideIn(
            scorecard=form.scorecard,
            score=number,
            band=form.band or None,
            reason=form.reason,
            expires_at=expires_at,
        )
    except ValidationError as error:
        names = {"scorecard": "Scorecard", "score": "Score", "band": "Band", "reason": "Reason"}
        form.errors = [
            f"{names.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
        return form, None
    return form, body


@router.post("/accounts/{account_id}/overrides")
def post_override(
    request: Request,
    account_id: str,
    user: User,
    database: DatabaseDep,
    csrf_token: FormText = None,
    scorecard: FormText = None,
    band: FormText = None,
    score: FormText = None,
    reason: FormText = None,
    expires_on: FormText = None,
) -> Response:
    """Create an override (admin), as POST /v1/accounts/{id}/overrides does."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.ADMIN, "set overrides")
    if not ACCOUNT_ID.match(account_id):
        raise not_found(user, f"Account {account_id!r}")
    form, body = _parse_override(scorecard, band, score, reason, expires_on)
    if body is not None:
        try:
            with database.session() as session:
                create_override(
                    session,
                    account_id,
                    body,
                    actor=user.principal.actor,
                    scope=user.principal.scope,
                )
        except ServiceError as error:
            if error.status_code == 404:
                raise not_found(user, f"Account {account_id!r}") from None
            form.errors = [error.detail[:1].upper() + error.detail[1:] + "."]
        else:
            if not is_htmx(request):
                return RedirectResponse(
                    f"/accounts/{quote(account_id)}?notice=override#overrides", status_code=303
                )
            context = _account_context(
                database, account_id, user, override_notice=NOTICES["override"]
            )
            return render(request, "_override_response.html", context, user=user)
    context = _account_context(database, account_id, user, override_form=form)
    name = "_overrides.html" if is_htmx(request) else "account.html"
    return render(request, name, context, user=user, status_code=422)


@router.post("/accounts/{account_id}/messages/{message_ref}/sentiment-label")
def post_label(
    request: Request,
    account_id: str,
    message_ref: str,
    user: User,
    database: DatabaseDep,
    csrf_token: FormText = None,
    label: FormText = None,
    note: FormText = None,
    slot: FormText = None,
) -> Response:
    """Correct a message's sentiment label (analyst, admin), as PUT /v1/messages/{id}/
    sentiment-label does."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVALUATE, "correct sentiment labels")
    message_id = int(message_ref) if re.fullmatch(r"[0-9]{1,10}", message_ref) else 0
    if not ACCOUNT_ID.match(account_id) or not 1 <= message_id <= 2**31 - 1:
        raise not_found(user, "The message")
    with database.session() as session:
        message = account_views.message_of_account(session, account_id, message_id)
        if message is None:
            raise not_found(user, f"Message {message_id} of account {account_id!r}")
    slot = slot if slot and SLOT.match(slot) else f"m{message_id}"
    error = None
    if label not in LABELS:
        error = "Choose negative, neutral or positive."
    else:
        try:
            body = CorrectionIn(label=label, note=(note or "").strip() or None)
        except ValidationError:
            error = "The note may be at most 2,000 characters."
        else:
            with database.session() as session:
                correct_sentiment_label(session, message_id, body, actor=user.principal.actor)
    if error is None and not is_htmx(request):
        return RedirectResponse(
            f"/accounts/{quote(account_id)}?notice=label#evidence", status_code=303
        )
    if error is not None and not is_htmx(request):
        raise PageError(422, "Invalid label", error, user)
    with database.session() as session:
        correction = account_views.latest_corrections(session, {message_id}).get(message_id)
    context = {
        "account_id": account_id,
        "message_id": message_id,
        "slot": slot,
        "correction": correction,
        "labels": LABELS,
        "saved": error is None,
        "error": error,
    }
    return render(
        request,
        "_label_form.html",
        context,
        user=user,
        status_code=200 if error is None else 422,
    )


@router.get("/accounts/{account_id}/keyphrases")
def account_keyphrases(
    request: Request, account_id: str, user: User, database: DatabaseDep, models: ModelsDep
) -> Response:
    """Phrases typical of the account (lazy-loaded: needs the spaCy model)."""
    if not ACCOUNT_ID.match(account_id):
        raise not_found(user, f"Account {account_id!r}")
    phrases: list[insights.KeyphraseOut] = []
    error = None
    try:
        phrases = insights.account_topics(
            database, models, account_id, start=None, end=None, scope=user.scope
        ).keyphrases
    except NotReadyError as problem:
        error = problem.detail
    except ServiceError as problem:
        if problem.status_code == 404:
            raise not_found(user, f"Account {account_id!r}") from None
        error = problem.detail
    context = {"phrases": phrases, "error": error, "account_id": account_id}
    name = "_keyphrases.html" if is_htmx(request) else "keyphrases.html"
    return render(request, name, context, user=user)
