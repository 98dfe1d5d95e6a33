"""The dashboard's pages and form handlers (server-rendered HTML, enhanced with htmx), one
module per page: `login` (sign in and out), `portfolio` (`/`), `account`
(`/accounts/{id}` with its override and label forms), `topics` and `scorecards`; the Model page
is `dashboard.model_page`.

Every page needs a signed-in session (see `sessions` and `access`); forms that change data
carry the session's CSRF token and need the same permission as the matching API endpoint:
overrides need `admin`, sentiment-label corrections `evaluate` (analyst and admin). Form
handlers call the same service functions as those endpoints, so validation, auditing and
errors are identical.

A request sent by htmx (`HX-Request: true`) gets the changed fragment back; the same form
without JavaScript gets a redirect (POST/redirect/GET) or, on invalid input, the whole page
with the errors.
"""

from __future__ import annotations

from fastapi import APIRouter

from sentiment_service.dashboard.pages import account, login, portfolio, scorecards, topics

router = APIRouter(include_in_schema=False)
for page in (login, portfolio, account, topics, scorecards):
    router.include_router(page.router)

__all__ = ["router"]
