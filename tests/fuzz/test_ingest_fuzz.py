"""Generated records, valid and hostile, through the real ingestion API (on both databases).

Every record of a batch must end up accepted (or updated/duplicate) or rejected with a reason
code, a reason and the field it blames, and each rejected one must sit in the quarantine:
accepted + rejected == sent, no 5xx (a record that is not even an object makes the whole batch
a 422 naming it). Lone surrogates cannot travel in valid JSON (the API
answers 400), so the connector path, which hands Python values to the same validators, is
fuzzed with them directly.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.records import MessageRecord, MetricRecord
from sentiment_service.accounts import AccountIn
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import QuarantineRecord
from sentiment_service.vocabulary import AuthorRole, Role, Source
from tests.conftest import auth
from tests.factories import account_body, message, metric

FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the database is shared on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
MAX_TEXT_CHARS = 20_000  # the settings' default

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23))
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.none(), st.just(UTC), offsets.map(timezone)),
)
timestamps = st.one_of(
    moments.map(datetime.isoformat),  # with and without a time zone, years 1..9999
    st.sampled_from(
        [
            "2026-10-01",
            "2026-10-01T09:30:00+14:00",
            "2026-13-01T00:00:00Z",
            "2026-10-01T24:00:00Z",
            "last tuesday",
            "",
            "0",
            "1970-01-01T00:00:00Z",
            # the edges of Python's years 1..9999, also after conversion to UTC
            "0001-01-01",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31",
            "9999-12-31T23:59:59.999999-12:00",
            "9000-12-31T23:59:59Z",
        ]
    ),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.booleans(),
    st.none(),
)
identifiers = st.one_of(
    st.text(min_size=1, max_size=30),
    st.text(alphabet=string.whitespace, max_size=3),
    st.text(min_size=250, max_size=300),
    st.sampled_from(["a\x00b", "x" * 257]),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=string.whitespace + "\u200b\u3000\u00a0", max_size=10),
    st.sampled_from(
        [
            "",
            "x" * MAX_TEXT_CHARS,
            "x" * (MAX_TEXT_CHARS + 1),
            "😡🔥" * 50,
            "<script>alert(1)</script> **bold** [x](javascript:alert(1))",
            "الخدمة بطيئة 服务很慢 the service is slow",
            "".join(map(chr, range(32))) + "\u202e\u200f reversed",
        ]
    ),
    st.integers(),
    st.none(),
)


def _hostile(base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]) -> Any:
    """A strategy: `base` with some fields replaced, removed or added, or not an object."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        if draw(st.integers(0, 9)) == 0:
            return draw(st.one_of(json_scalars, st.lists(json_scalars, max_size=2)))
        record = dict(base)
        for name in draw(st.sets(st.sampled_from(sorted(fields)), max_size=3)):
            record[name] = draw(fields[name])
        for name in draw(st.sets(st.sampled_from(sorted(record)), max_size=1)):
            if draw(st.booleans()):
                del record[name]
        extra = st.dictionaries(st.text(min_size=1, max_size=8), json_scalars, max_size=1)
        record.update(draw(extra))
        return record

    return build()


message_records = _hostile(
    message("fuzz"),
    {
        "external_id": identifiers,
        "source_system": identifiers,
        "account_id": st.one_of(st.sampled_from(["acme", "ghost"]), identifiers),
        "thread_id": identifiers,
        "source": st.one_of(st.sampled_from([s.value for s in Source]), st.text(max_size=10)),
        "author_role": st.one_of(
            st.sampled_from([r.value for r in AuthorRole]), st.text(max_size=10)
        ),
        "text": texts,
        "created_at": timestamps,
        "language": st.one_of(st.sampled_from(["en", "pt-BR", "zz-ZZZZZZZZZ"]), identifiers),
        "metadata": st.one_of(st.dictionaries(st.text(max_size=8), json_values), json_values),
    },
)
metric_records = _hostile(
    metric(),
    {
        "account_id": st.one_of(st.sampled_from(["acme", "ghost"]), identifiers),
        "name": st.one_of(st.sampled_from(["logins", "seats_used", "Bad-Name", "9x"]), identifiers),
        "value": st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.booleans()),
        "observed_at": timestamps,
        "source": identifiers,
    },
)


def _names(path: str, names: set[str]) -> bool:
    """Whether the field path `path` starts with one of `names` (keys may hold dots)."""
    return any(path == name or path.startswith((f"{name}.", f"{name}[")) for name in names)


def _check_batch(
    response: Any, records: list[Any], model: type[Any], database: Database, envelope: str
) -> None:
    """Every record accounted for once; each rejection names a field and is quarantined.

    A record that is not an object makes the envelope invalid: a 422 naming each of them.
    """
    not_objects = [index for index, record in enumerate(records) if not isinstance(record, dict)]
    if not_objects:
        assert response.status_code == 422, response.text
        named = {error["field"] for error in response.json()["errors"]}
        assert {f"{envelope}[{index}]" for index in not_objects} <= named
        return
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["accepted"] + body["updated"] + body["duplicates"] + body["rejected"]
    assert sorted(item["index"] for item in items) == list(range(len(records)))
    assert sum(body["counts"].values()) == len(records)
    for item in body["accepted"] + body["updated"] + body["duplicates"]:
        assert item["id"] is not None
    quarantined = []
    for item in body["rejected"]:
        record = records[item["index"]]
        assert item["code"] and item["reason"] and item["quarantine_id"] is not None
        assert item["field"], item
        keys = {str(key).replace("\x00", "\ufffd") for key in record} | {'""'}  # as stored
        assert _names(item["field"], keys | set(model.model_fields)), item
        quarantined.append(item["quarantine_id"])
    with database.session() as session:
        stored = session.exec(
            select(QuarantineRecord.id).where(col(QuarantineRecord.id).in_(quarantined))
        ).all()
    assert set(stored) == set(quarantined)


def _post(client: TestClient, key: str, path: str, body: Any) -> Any:
    """POST `body` as JSON as Python writes it (NaN and Infinity included)."""
    return client.post(
        path,
        content=json.dumps(body).encode(),
        headers={**auth(key), "content-type": "application/json"},
    )


@FUZZ_SETTINGS
@given(records=st.lists(message_records, min_size=1, max_size=8))
def test_every_message_is_stored_or_quarantined_with_a_reason(
    client: TestClient, keys: dict[Role, str], database: Database, records: list[Any]
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    response = _post(client, keys[Role.INGEST], "/v1/messages", {"messages": records})
    _check_batch(response, records, MessageRecord, database, "messages")


@FUZZ_SETTINGS
@given(records=st.lists(metric_records, min_size=1, max_size=8))
def test_every_metric_is_stored_or_quarantined_with_a_reason(
    client: TestClient, keys: dict[Role, str], database: Database, records: list[Any]
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    response = _post(client, keys[Role.INGEST], "/v1/metrics", {"metrics": records})
    _check_batch(response, records, MetricRecord, database, "metrics")


account_fields = {
    "name": st.one_of(identifiers, st.text(min_size=257, max_size=260)),
    "segment": identifiers,
    "industry": identifiers,
    "tier": identifiers,
    "arr": st.one_of(st.floats(), st.integers(), st.text(max_size=4), st.none()),
    "renewal_date": st.one_of(timestamps, st.dates().map(str)),
    "owner": identifiers,
    "external_ids": st.one_of(
        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers())),
        json_values,
    ),
}


@FUZZ_SETTINGS
@given(
    account_id=st.one_of(st.sampled_from(["acme", "a" * 128, "a" * 129]), st.text(max_size=20)),
    body=_hostile(account_body(), account_fields),
)
def test_account_upserts_are_stored_or_refused_with_the_field_named(
    client: TestClient, keys: dict[Role, str], account_id: str, body: Any
) -> None:
    response = client.put(
        f"/v1/accounts/{quote(account_id, safe='')}",
        content=json.dumps(body).encode(),
        headers={**auth(keys[Role.INGEST]), "content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code in (200, 201):
        assert response.json()["id"] == account_id
        return
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    if response.status_code == 422:
        known = set(AccountIn.model_fields) | {"account_id", "body"}
        if isinstance(body, dict):
            known |= {str(key) for key in body}
        for error in response.json()["errors"]:
            assert _names(error["field"], known), error


def test_lone_surrogates_get_a_clear_400_over_http(
    client: TestClient, keys: dict[Role, str]
) -> None:
    records = [message("s1", text="half an emoji \ud83d"), message("s2")]
    response = _post(client, keys[Role.INGEST], "/v1/messages", {"messages": records})
    assert response.status_code == 400
    assert "lone UTF-16 surrogate" in response.json()["detail"]


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
with_surrogate = st.builds(
    lambda before, lone, after: before + lone + after,
    st.text(max_size=20),
    surrogates,
    st.text(max_size=20),
)


@FUZZ_SETTINGS
@given(
    text=with_surrogate,
    where=st.sampled_from(["text", "metadata", "external_id", "thread_id", "extra_key"]),
)
def test_the_connector_path_survives_lone_surrogates(
    database: Database, text: str, where: str
) -> None:
    """Connectors decode vendor JSON themselves: free text keeps its words (U+FFFD for the
    broken half), identifiers are refused by field, and the quarantine can store the record."""
    record = message("c1", text="The export failed.", account_id=None, source="social")
    if where == "metadata":
        record["metadata"] = {text: [text]}
    elif where == "extra_key":
        record[text] = 1
    else:
        record[where] = text if where != "text" else text + " export failed"
    with database.session() as session:
        result = Ingestor(session, IngestPolicy(), channel="test", actor="fuzz").messages([record])
    item = result.items[0]
    if where in ("text", "metadata"):
        assert item.status in ("accepted", "flagged", "updated", "duplicate"), item
    else:
        assert item.status == "rejected" and item.quarantine_id is not None, item
        if where == "extra_key":  # an unknown key, and one that is not valid Unicode
            assert item.code in ("unexpected_field", "invalid_unicode") and item.field
        else:
            assert (item.code, item.field) == ("invalid_unicode", where), item
