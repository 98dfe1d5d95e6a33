"""Content hashes for exact de-duplication."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.dedupe import content_hash
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database


def test_hash_ignores_case_and_spacing_only() -> None:
    assert content_hash("Hello   World\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello, world")


@given(st.text(max_size=200), st.sampled_from([" ", "  ", "\n", "\t "]))
def test_hash_ignores_surrounding_and_repeated_whitespace(text: str, space: str) -> None:
    digest = content_hash(text)
    assert len(digest) == 64
    assert content_hash(space + text + space) == digest


def test_templates_ignore_quotes_signatures_names_numbers_and_links() -> None:
    from pipelines.dedupe import template_hash, template_text

    one = (
        "Hi Lena,\n\nThanks for reaching out, ticket #4411 is now closed. "
        "See https://help.example/a/4411\n\nBest,\nSam\n\nOn Mon, Oct 5 Lena wrote:\n> help"
    )
    two = "Hi Jonas,\n\nThanks for reaching out, ticket #5120 is now closed. See https://x.y/z"
    assert template_hash(one) == template_hash(two)
    assert "<name>" in template_text(one) and "#" in template_text(one)
    assert template_hash("The export fails") != template_hash("The import fails")


def _ingest(database: Database, records: list[dict]) -> dict[str, tuple[str, str | None]]:
    from pipelines.ingest import Ingestor, IngestPolicy
    from sentiment_service.accounts import AccountIn, upsert_account

    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        result = Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
    assert sum(result.counts().values()) == len(records)
    return {records[i.index]["external_id"]: (i.status, i.code) for i in result.items}


def test_distinct_records_with_the_same_text_are_all_stored(database: Database) -> None:
    """The defect of issue 17: a repeated text on another ticket, by another role or in
    another source system, or on the same ticket by a customer, is a message of its own."""
    from sqlmodel import func, select

    from sentiment_service.storage.tables import Message
    from tests.factories import message

    text = "Still broken after the update, please advise."
    records = [
        message("c1", text=text, thread_id="ticket-1"),
        message("c2", text=text, thread_id="ticket-2"),  # same customer text, other ticket
        message("a1", text=text, thread_id="ticket-3", author_role="agent"),  # agent, same words
        message("c3", text=text, thread_id="ticket-1", created_at="2026-10-01T09:31:00Z"),
        message("c4", text=text, thread_id=None),  # no thread at all
        message("x1", text=text, source_system="intercom"),  # same key, other system
        message("e1", text=text.upper(), thread_id="ticket-4"),  # same up to case
    ]
    statuses = _ingest(database, records)
    assert set(statuses.values()) == {("accepted", None)}
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == len(records)
    # The same records again are plain duplicates, and nothing new is stored.
    again = _ingest(database, records)
    assert set(again.values()) == {("duplicate", "same_external_id")}


def test_canned_replies_in_one_thread_are_stored_and_flagged(database: Database) -> None:
    from sqlmodel import select

    from sentiment_service.storage.tables import Message
    from tests.factories import message

    reply = "Hi {name},\n\nYour ticket #{n} has been escalated to our engineers.\n\nBest,\nSam"
    records = [
        message("r1", author_role="agent", text=reply.format(name="Lena", n=1)),
        message(  # same thread, same role, within a day: flagged
            "r2",
            author_role="agent",
            text=reply.format(name="Wei", n=2),
            created_at="2026-10-01T18:00:00Z",
        ),
        message(  # another thread: a reply of its own
            "r3", author_role="agent", text=reply.format(name="Ana", n=3), thread_id="ticket-9"
        ),
        message(  # same thread, two days later: kept
            "r4",
            author_role="agent",
            text=reply.format(name="Ana", n=4),
            created_at="2026-10-03T12:00:00Z",
        ),
        message(  # a bot is another kind of author
            "b1", author_role="bot", text=reply.format(name="Lena", n=1)
        ),
        message("c1", text="Export failed again.", created_at="2026-10-01T09:00:00Z"),
        message(  # customers are never flagged, not even with quoted history
            "c2",
            text="Export failed again.\n\nOn Tue, Support wrote:\n> Any news?",
            created_at="2026-10-01T15:00:00Z",
        ),
    ]
    statuses = _ingest(database, records)
    assert statuses["r2"] == ("flagged", "canned_reply")
    flagged = [key for key, (status, _) in statuses.items() if status == "flagged"]
    assert flagged == ["r2"]
    with database.session() as session:
        rows = {m.external_id: m for m in session.exec(select(Message)).all()}
    assert len(rows) == len(records)  # stored, never dropped
    assert rows["r2"].duplicate_of == rows["r1"].id
    assert rows["r2"].duplicate_reason == "canned_reply"
    assert all(rows[key].duplicate_of is None for key in rows if key != "r2")


def test_flagged_repeats_are_not_scored_and_not_counted(
    database: Database, model_hub: ModelHub
) -> None:
    from sqlmodel import select

    from pipelines.backfill import remaining
    from pipelines.scoring import store_scores
    from sentiment_service.storage.tables import Message, MessageScore
    from tests.factories import message

    reply = "Thanks {name}, we are looking into ticket #{n} now."
    _ingest(
        database,
        [
            message("r1", author_role="agent", text=reply.format(name="Lena", n=1)),
            message("r2", author_role="agent", text=reply.format(name="Wei", n=2)),
        ],
    )
    scorer = model_hub.scorer()
    with database.session() as session:
        messages = list(session.exec(select(Message).order_by(Message.id)).all())
        store_scores(session, messages, scorer)
    with database.session() as session:
        rows = {row.message_id: row for row in session.exec(select(MessageScore)).all()}
        first, second = messages
        assert rows[first.id].status == "scored" and rows[first.id].label is not None
        assert rows[second.id].status == "skipped_duplicate" and rows[second.id].label is None
        assert remaining(session, scorer.version) == 0


def test_a_batch_stores_exactly_what_the_same_records_one_by_one_store(
    database: Database,
) -> None:
    """New records go in bulk; repeated keys, known keys and canned repeats inside the batch
    must end exactly as when each record is sent on its own."""
    from sqlmodel import select

    from pipelines.ingest import Ingestor, IngestPolicy
    from sentiment_service.accounts import AccountIn, upsert_account
    from sentiment_service.storage.tables import Message
    from tests.factories import message

    reply = "Hi {name}, ticket #{n} is with our engineers now."

    def records(account: str) -> list[dict]:
        def m(key: str, **fields: object) -> dict:
            return message(f"{account}-{key}", **{"account_id": account, **fields})

        return [
            m("c1", text="Export failed again."),
            m("c1", text="Export failed again, and again."),  # same key: an update
            m("c1", text="Export failed again, and again."),  # same key, same text: duplicate
            m("a1", author_role="agent", text=reply.format(name="Lena", n=1)),
            m("a2", author_role="agent", text=reply.format(name="Wei", n=2)),  # canned of a1
            m("a3", author_role="agent", text=reply.format(name="Ana", n=3)),  # canned of a1
            m("old", author_role="agent", text="We shipped the fix, please retry."),
            m("c2", text="Export failed again."),  # same text, other key: stored
            m("x1", account_id="nobody"),  # unknown account: quarantined
            m("x2", created_at="not a date"),  # invalid: quarantined
        ]

    def shape(account: str) -> list[tuple]:
        with database.session() as session:
            rows = session.exec(
                select(Message).where(Message.account_id == account).order_by(Message.id)
            ).all()
            key_of = {row.id: row.external_id.split("-", 1)[1] for row in rows}
            return sorted(
                (
                    key_of[row.id],
                    row.text,
                    key_of.get(row.duplicate_of) if row.duplicate_of else None,
                )
                for row in rows
            )

    earlier = "We shipped the fix, please retry."
    with database.session() as session:
        for account in ("acme", "globex"):
            upsert_account(session, account, AccountIn(name=account), actor="t")
            ingestor = Ingestor(session, IngestPolicy(), channel="t", actor="t")
            stored = message(f"{account}-s0", account_id=account, author_role="agent", text=earlier)
            ingestor.messages([stored])  # stored before: "old" repeats it
    statuses = {}
    with database.session() as session:
        ingestor = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        bulk = ingestor.messages(records("acme"))
        statuses["bulk"] = [(i.index, i.status, i.code) for i in bulk.items]
        single = [ingestor.messages([r]).items[0] for r in records("globex")]
        statuses["single"] = [(n, i.status, i.code) for n, i in enumerate(single)]
    assert statuses["bulk"] == statuses["single"]
    assert [status for _, status, _ in statuses["bulk"]] == [
        "accepted",
        "updated",
        "duplicate",
        "accepted",
        "flagged",
        "flagged",
        "flagged",
        "accepted",
        "rejected",
        "rejected",
    ]
    assert shape("acme") == shape("globex")
    assert ("a2", reply.format(name="Wei", n=2), "a1") in shape("acme")
    assert ("old", earlier, "s0") in shape("acme")
