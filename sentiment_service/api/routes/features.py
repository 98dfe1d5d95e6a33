"""Account features for machine clients: point-in-time JSON, bulk export, and the catalog."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from pipelines.dates import Moment
from pipelines.features import FEATURE_CATALOG, account_features, as_json
from sentiment_service.accounts import account_ids
from sentiment_service.api import caching
from sentiment_service.api.deps import DatabaseDep, Reader, ResponseCacheDep
from sentiment_service.auth.scope import AccountScope, scope_token
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.types import utcnow

router = APIRouter(prefix="/v1/features", tags=["features"])
MAX_ACCOUNTS = 1000
EXPORT_BATCH = 500
KNOWN = {d.name for d in FEATURE_CATALOG}


def _names(names: str | None) -> list[str]:
    if not names:
        return sorted(KNOWN)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(chosen) - KNOWN)
    if unknown:
        raise InvalidInputError(
            f"unknown feature names {unknown[:10]}; see GET /v1/features/catalog", field="names"
        )
    return chosen


def _as_of(value: datetime | None) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.utcoffset() is None:
        raise InvalidInputError("as_of needs a time zone, e.g. 2026-10-31T00:00:00Z", field="as_of")
    if value > now:
        raise InvalidInputError("as_of must not be in the future", field="as_of")
    return value


def _account_ids(
    session: Session,
    accounts: str | None,
    cursor: str | None,
    limit: int,
    scope: AccountScope | None,
) -> list[str]:
    """The ids asked for, or the next page of the accounts in `scope` (None: all)."""
    if accounts:
        ids = [a.strip() for a in accounts.split(",") if a.strip()]
        if len(ids) > MAX_ACCOUNTS:
            raise InvalidInputError(
                f"at most {MAX_ACCOUNTS} accounts per request", field="accounts"
            )
        return ids
    return account_ids(session, scope, after=cursor, limit=limit + 1)


@router.get("/catalog", summary="Feature names and definitions")
def catalog(_: Reader) -> list[dict[str, str]]:
    """Every feature the service computes, with its kind and definition."""
    return [{"name": d.name, "kind": d.kind, "description": d.description} for d in FEATURE_CATALOG]


@router.get("", response_model=dict[str, Any], summary="Point-in-time features per account")
def features(
    request: Request,
    principal: Reader,
    database: DatabaseDep,
    cache: ResponseCacheDep,
    accounts: Annotated[str | None, Query(description="Comma-separated ids (max 1000)")] = None,
    as_of: Annotated[Moment | None, Query(description="Only data known at this time")] = None,
    names: Annotated[str | None, Query(description="Comma-separated feature names")] = None,
    basis: Literal["known", "event"] = "known",
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ACCOUNTS)] = 200,
) -> dict[str, Any] | Response:
    """Features at `as_of` (default now) from data created - and, with basis `known`, also
    ingested - by then. Without `accounts`, pages through every account (`next_cursor`).
    Answers carry an ETag and Last-Modified; send them back (If-None-Match,
    If-Modified-Since) to get a 304 while the data is unchanged. Keys scoped to
    segments/owners page through the accounts in their scope; ids they name outside it
    answer like unknown accounts (every value null)."""
    moment = _as_of(as_of)
    chosen = _names(names)
    scope = principal.scope
    with database.session() as session:
        clock = [] if as_of is not None else [moment.replace(second=0, microsecond=0)]
        extra = [*clock, scope_token(scope)]
        current = caching.validators(session, request, caching.feature_facts(), extra=extra)

        def render() -> bytes:
            ids = _account_ids(session, accounts, cursor, limit, scope)
            next_cursor = None
            if not accounts and len(ids) > limit:
                ids, next_cursor = ids[:limit], ids[limit - 1]
            values = account_features(session, ids, moment, basis=basis, scope=scope)
            body = {
                "as_of": moment.isoformat(),
                "basis": basis,
                "accounts": {
                    account_id: {
                        n: v for n, v in as_json(values[account_id]).items() if n in chosen
                    }
                    for account_id in ids
                },
                "next_cursor": next_cursor,
            }
            return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()

        return caching.cached_json(request, cache, current, scope, render)


def _rows(
    database: DatabaseDep,
    moment: datetime,
    basis: Any,
    chosen: list[str],
    scope: AccountScope | None,
) -> Iterator[list[Any]]:
    """One row per account in `scope` (None: every account), in batches."""
    with database.session() as session:
        all_ids = account_ids(session, scope)
    for start in range(0, len(all_ids), EXPORT_BATCH):
        batch = all_ids[start : start + EXPORT_BATCH]
        with database.session() as session:
            values = account_features(session, batch, moment, basis=basis, scope=scope)
        for account_id in batch:
            row = values[account_id]
            yield [account_id, *(row[n].value for n in chosen)]


@router.get(
    "/export",
    summary="Bulk export (CSV streamed, or Parquet)",
    response_class=Response,
    responses={
        200: {
            "description": "CSV, or with `format=parquet` a Parquet file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
def export(
    principal: Reader,
    database: DatabaseDep,
    as_of: Moment | None = None,
    names: str | None = None,
    basis: Literal["known", "event"] = "known",
    format: Literal["csv", "parquet"] = "csv",
) -> Response:
    """One row per account (of the key's scope, for keys scoped to segments/owners), one
    column per feature, computed in batches of 500 accounts."""
    moment = _as_of(as_of)
    chosen = _names(names)
    header = ["account_id", *chosen]
    filename = f"features-{moment.date().isoformat()}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "parquet":
        rows = list(_rows(database, moment, basis, chosen, principal.scope))
        columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
        table = pa.table(
            {
                "account_id": pa.array(columns["account_id"], pa.string()),
                **{n: pa.array(columns[n], pa.float64()) for n in chosen},
            }
        )
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return Response(
            sink.getvalue(), media_type="application/vnd.apache.parquet", headers=disposition
        )

    def stream() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in _rows(database, moment, basis, chosen, principal.scope):
            writer.writerow(["" if v is None else v for v in row])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(stream(), media_type="text/csv", headers=disposition)
