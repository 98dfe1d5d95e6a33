"""The dashboard's pages and form handlers (server-rendered HTML, enhanced with htmx).

Every page needs a signed-in session (see `sessions`); forms that change data carry the
session's CSRF token and need the same permission as the matching API endpoint: overrides
need `admin`, sentiment-label corrections `evaluate` (analyst and admin). Form handlers call
the same service functions as those endpoints, so validation, auditing and errors are
identical.

A request sent by htmx (`HX-Request: true`) gets the changed fragment back; the same form
without JavaScript gets a redirect (POST/redirect/GET) or, on invalid input, the whole page
with the errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from sentiment_service import topic_insights as insights
from sentiment_service.api.deps import DatabaseDep, ModelsDep
from sentiment_service.auth.keys import KEY_PATTERN, authenticate_request
from sentiment_service.auth.permissions import Permission, allows
from sentiment_service.corrections import CorrectionIn, correct_sentiment_label
from sentiment_service.dashboard import charts, views
from sentiment_service.dashboard.sessions import (
    COOKIE_NAME,
    DashboardUser,
    SessionSigner,
    end_session,
    load_user,
    open_session,
)
from sentiment_service.errors import NotReadyError, ServiceError
from sentiment_service.health.manual_overrides import (
    MAX_OVERRIDE_DAYS,
    OverrideIn,
    create_override,
)
from sentiment_service.storage.types import utcnow
from sentiment_service.vocabulary import Source

TEMPLATES_DIR = Path(__file__).parent / "templates"
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
CARD_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SLOT = re.compile(r"^[A-Za-z0-9_-]{1,160}$")
LABELS = ("negative", "neutral", "positive")
NOTICES = {
    "override": "Override saved.",
    "label": "Sentiment label correction saved.",
}

router = APIRouter(include_in_schema=False)


# --- templates ------------------------------------------------------------------------------


def _signed(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    text = f"{value:+.{digits}f}"
    return text.replace("-", "\u2212")


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}\u00a0%"


def _day(value: date | datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%d %b %Y")


def _tone(value: float | None) -> str:
    """A CSS class for a sentiment value: neg, neu or pos."""
    if value is None:
        return "none"
    return "neg" if value <= -0.15 else "pos" if value >= 0.15 else "neu"


def _band_tone(band: str | None, bands: list[str]) -> str:
    """good for a scorecard's first (best) band, bad for its last, mid between."""
    if band is None or band not in bands:
        return "none"
    index = bands.index(band)
    return "good" if index == 0 else "bad" if index == len(bands) - 1 else "mid"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        signed=_signed,
        number=_number,
        percent=_percent,
        day=_day,
        tone=_tone,
        band_tone=_band_tone,
    )
    env.globals.update(line_chart=charts.line_chart, bar=charts.bar, Series=charts.Series)
    return env


templates = Jinja2Templates(env=_environment())


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (and wants a fragment, not a whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: DashboardUser | None,
    status_code: int = 200,
) -> Response:
    """A template response with the user, their permissions and the CSRF token."""
    base = {
        "user": user,
        "csrf_token": user.csrf_token if user else "",
        "can_override": bool(user and user.can(Permission.ADMIN)),
        "can_label": bool(user and user.can(Permission.EVALUATE)),
        "nav": context.pop("nav", ""),
    }
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


# --- sessions, errors -----------------------------------------------------------------------


class LoginRequired(Exception):
    """No valid session; `ended` when there was one (expired, revoked, forged)."""

    def __init__(self, *, ended: bool) -> None:
        super().__init__("login required")
        self.ended = ended


class PageError(Exception):
    """An error shown as an HTML page (or fragment for htmx)."""

    def __init__(
        self, status_code: int, title: str, detail: str, user: DashboardUser | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.title = title
        self.detail = detail
        self.user = user


def signer_of(request: Request) -> SessionSigner:
    """The app's session signer."""
    return request.app.state.dashboard_signer


def current_user(request: Request, database: DatabaseDep) -> DashboardUser:
    """The signed-in user; LoginRequired when there is no valid session."""
    signer = signer_of(request)
    raw = request.cookies.get(COOKIE_NAME)
    data = signer.verify(raw)
    if data is None:
        raise LoginRequired(ended=raw is not None)
    with database.session() as session:
        user = load_user(session, signer, data)
    if user is None:
        raise LoginRequired(ended=True)
    request.scope.setdefault("state", {})["key_id"] = user.principal.key_id
    return user


User = Annotated[DashboardUser, Depends(current_user)]
FormText = Annotated[str | None, Form()]


def _safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or target.startswith(("/login", "/logout")):
        return "/"
    return target


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """Send the browser to the login page (htmx: a full-page redirect via HX-Redirect)."""
    assert isinstance(exc, LoginRequired)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request):
        current = request.headers.get("HX-Current-URL", "")
        match = re.match(r"^https?://[^/]+(/[^#]*)", current)
        here = match.group(1) if match else "/"
    if request.method != "GET" and not is_htmx(request):
        here = "/"
    params = {"next": _safe_next(here)}
    if exc.ended:
        params["ended"] = "1"
    target = "/login?" + urlencode(params, quote_via=quote)
    if is_htmx(request):
        response: Response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if exc.ended:
        response.delete_cookie(COOKIE_NAME, path="/")
    return response


async def page_error_handler(request: Request, exc: Exception) -> Response:
    """An error page, or an error fragment for htmx."""
    assert isinstance(exc, PageError)
    name = "_error.html" if is_htmx(request) else "error.html"
    response = render(
        request,
        name,
        {"title": exc.title, "detail": exc.detail},
        user=exc.user,
        status_code=exc.status_code,
    )
    if is_htmx(request):  # show it in the page's message area, leave the form in place
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _check_csrf(request: Request, user: DashboardUser, token: str | None) -> None:
    header = request.headers.get("X-CSRF-Token")
    if not signer_of(request).check_csrf(user.session, token or header):
        raise PageError(
            403,
            "Form expired",
            "The form's security token is missing or wrong. Reload the page and try again.",
            user,
        )


def _require(user: DashboardUser, permission: Permission, what: str) -> None:
    if not user.can(permission):
        raise PageError(
            403,
            "Not allowed",
            f"Your key's role ({user.role}) may not {what}; it needs the "
            f"'{permission}' permission.",
            user,
        )


def _not_found(user: DashboardUser, what: str) -> PageError:
    return PageError(404, "Not found", f"{what} does not exist.", user)


# --- login, logout --------------------------------------------------------------------------


@router.get("/login")
def login_page(
    request: Request,
    database: DatabaseDep,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    ended: Annotated[str | None, Query(max_length=8)] = None,
    logged_out: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The login form (signed-in users go straight on)."""
    try:
        current_user(request, database)
    except LoginRequired:
        pass
    else:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = None
    if ended:
        notice = "Your session ended. Please sign in again."
    elif logged_out:
        notice = "You are signed out."
    return render(
        request,
        "login.html",
        {"next": _safe_next(next), "error": None, "notice": notice},
        user=None,
    )


def _same_origin_form(request: Request) -> bool:
    """Whether a form post comes from the dashboard's own pages, as far as the browser says:
    `Sec-Fetch-Site` must not be cross-site and `Origin`, when sent (browsers send it with
    every POST), must name this service's host and port (the scheme is not compared: a proxy
    may end TLS). Clients that send neither (curl, scripts) are not browsers that another
    site could drive."""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin.lower().partition("://")[2] == request.url.netloc.lower()


@router.post("/login")
def login(
    request: Request,
    database: DatabaseDep,
    api_key: FormText = None,
    next: FormText = None,
) -> Response:
    """Check the API key and start a session."""
    if not _same_origin_form(request):  # login CSRF: a foreign site posting its own key
        raise PageError(403, "Not allowed", "Sign in from the dashboard's own login page.")
    key = (api_key or "").strip()
    principal = None
    if key:
        principal = authenticate_request(database, key)
    error, status = None, 200
    if principal is None:
        error, status = "That API key is unknown, mistyped or revoked.", 401
    elif not allows(principal.role, Permission.READ):
        error = f"Keys with the '{principal.role}' role cannot use the dashboard."
        status = 403
    if error is not None or principal is None:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": error, "notice": None},
            user=None,
            status_code=status,
        )
    match = KEY_PATTERN.match(key)
    assert match is not None
    signer = signer_of(request)
    value, lifetime = signer.issue(principal.key_id, match.group(1))
    data = signer.verify(value)
    assert data is not None
    with database.session() as session:
        open_session(session, data)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=lifetime,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
def logout_page(request: Request, user: User) -> Response:
    """A page with the sign-out button (signing out changes state, so it is a POST)."""
    return render(request, "logout.html", {}, user=user)


@router.post("/logout")
def logout(request: Request, database: DatabaseDep, csrf_token: FormText = None) -> Response:
    """End the session: the cookie is deleted (an invalid session just goes to the login)."""
    try:
        user = current_user(request, database)
    except LoginRequired:
        user = None
    if user is not None:
        _check_csrf(request, user, csrf_token)
        with database.session() as session:
            end_session(session, user.session)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# --- portfolio ------------------------------------------------------------------------------


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/")
def portfolio_page(
    request: Request,
    user: User,
    database: DatabaseDep,
    scorecard: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    band: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Accounts by band and the account table, biggest sentiment drops first."""
    filters = {
        "scorecard": _blank(scorecard),
        "segment": _blank(segment),
        "owner": _blank(owner),
        "band": _blank(band),
    }
    with database.session() as session:
        data = views.portfolio(session, **filters, now=utcnow(), scope=user.scope)
    return render(
        request,
        "portfolio.html",
        {"data": data, "filters": filters, "nav": "portfolio"},
        user=user,
    )


# --- account --------------------------------------------------------------------------------


@dataclass
class OverrideForm:
    """The override form's values and errors (kept when the input is refused)."""

    scorecard: str = ""
    band: str = ""
    score: str = ""
    reason: str = ""
    expires_on: str = ""
    errors: list[str] | None = None


def _default_override_form(cards: list[views.CardInfo]) -> OverrideForm:
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
        raise _not_found(user, f"Account {account_id!r}")
    now = utcnow()
    with database.session() as session:
        view = views.account(session, account_id, now, user.scope)
        if view is None:
            raise _not_found(user, f"Account {account_id!r}")
        trend = views.sentiment_trend(session, account_id)
        topics = views.account_topics(session, account_id)
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


def _trend_chart(trend: views.TrendView) -> Any:
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
            expires_at=expires_at,  # type: ignore[arg-type]
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
    _check_csrf(request, user, csrf_token)
    _require(user, Permission.ADMIN, "set overrides")
    if not ACCOUNT_ID.match(account_id):
        raise _not_found(user, f"Account {account_id!r}")
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
                raise _not_found(user, f"Account {account_id!r}") from None
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
    _check_csrf(request, user, csrf_token)
    _require(user, Permission.EVALUATE, "correct sentiment labels")
    message_id = int(message_ref) if re.fullmatch(r"[0-9]{1,10}", message_ref) else 0
    if not ACCOUNT_ID.match(account_id) or not 1 <= message_id <= 2**31 - 1:
        raise _not_found(user, "The message")
    with database.session() as session:
        message = views.message_of_account(session, account_id, message_id)
        if message is None:
            raise _not_found(user, f"Message {message_id} of account {account_id!r}")
    slot = slot if slot and SLOT.match(slot) else f"m{message_id}"
    error = None
    if label not in LABELS:
        error = "Choose negative, neutral or positive."
    else:
        try:
            body = CorrectionIn(label=label, note=(note or "").strip() or None)  # type: ignore[arg-type]
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
        correction = views.latest_corrections(session, {message_id}).get(message_id)
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
        raise _not_found(user, f"Account {account_id!r}")
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
            raise _not_found(user, f"Account {account_id!r}") from None
        error = problem.detail
    context = {"phrases": phrases, "error": error, "account_id": account_id}
    name = "_keyphrases.html" if is_htmx(request) else "keyphrases.html"
    return render(request, name, context, user=user)


# --- topics ---------------------------------------------------------------------------------


@router.get("/topics")
def topics_page(
    request: Request,
    user: User,
    database: DatabaseDep,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The topic summary; emerging topics load lazily."""
    chosen_segment = _blank(segment)
    chosen_source = _blank(source)
    if chosen_source not in {s.value for s in Source}:
        chosen_source = None
    with database.session() as session:
        summary = views.topic_summary(
            session, segment=chosen_segment, source=chosen_source, scope=user.scope
        )
        segments = views.segments(session, user.scope)
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


# --- scorecards -----------------------------------------------------------------------------


@router.get("/scorecards")
def scorecards_page(request: Request, user: User, database: DatabaseDep) -> Response:
    """The scorecards in force."""
    with database.session() as session:
        cards = views.scorecards(session)
    return render(request, "scorecards.html", {"cards": cards, "nav": "scorecards"}, user=user)


@router.get("/scorecards/{card_id}")
def criteria_page(request: Request, card_id: str, user: User, database: DatabaseDep) -> Response:
    """A scorecard's components in plain words."""
    if not CARD_ID.match(card_id):
        raise _not_found(user, f"Scorecard {card_id!r}")
    with database.session() as session:
        criteria = views.criteria(session, card_id)
    if criteria is None:
        raise _not_found(user, f"Scorecard {card_id!r}")
    return render(request, "criteria.html", {"criteria": criteria, "nav": "scorecards"}, user=user)
