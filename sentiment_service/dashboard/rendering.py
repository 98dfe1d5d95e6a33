"""The dashboard's templates (Jinja2 with its number, date and tone filters and the chart
helpers) and `render`, which adds the user, their permissions and the CSRF token."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sentiment_service.auth.permissions import Permission
from sentiment_service.dashboard import charts
from sentiment_service.dashboard.sessions import DashboardUser

TEMPLATES_DIR = Path(__file__).parent / "templates"


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
