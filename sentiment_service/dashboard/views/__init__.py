"""What the dashboard pages show, read from the database through the service layer.

These functions return plain dataclasses for the templates; they hold no HTTP concerns.
Scores are the ones stored by `sentiment-service health score` (the newest per account and
scorecard), with an active override winning exactly as in `GET /v1/accounts/{id}/health`.
Sentiment figures come from the daily rollups, the same numbers as the trend endpoints.
A user whose key is scoped to segments/owners (`scope`, None for everyone else) sees only the
accounts in that scope, in lists, totals, filters, account pages and topic summaries.

One module per page: `scores` (what several pages share: the scorecards in force, the newest
stored scores, active overrides, sentiment means), `portfolio`, `account`, `trend` (the
account's weekly sentiment by source), `topics` and `criteria`.
"""
