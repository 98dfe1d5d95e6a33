"""Content hashes for exact de-duplication."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.dedupe import content_hash
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


def test_near_duplicates_are_reported_within_the_window_only(database: Database) -> None:
    from pipelines.ingest import Ingestor, IngestPolicy
    from sentiment_service.accounts import AccountIn, upsert_account
    from tests.factories import message

    reply = "Hi {name},\n\nYour ticket #{n} has been escalated to our engineers.\n\nBest,\nSam"
    records = [
        message(
            "r1",
            author_role="agent",
            text=reply.format(name="Lena", n=1),
            created_at="2026-10-01T09:00:00Z",
        ),
        message(
            "r2",
            author_role="agent",
            text=reply.format(name="Wei", n=2),
            created_at="2026-10-03T09:00:00Z",
        ),
        message(
            "r3",
            author_role="agent",
            text=reply.format(name="Ana", n=3),
            created_at="2026-11-20T09:00:00Z",
        ),  # outside 30 days: kept
        message("c1", text="Export failed again.", created_at="2026-10-01T09:00:00Z"),
        message(
            "c2",
            text="Export failed again.\n\nOn Tue, Support wrote:\n> Any news?",
            created_at="2026-10-01T15:00:00Z",
        ),
        message("c3", text="Export failed again. Order 1003.", created_at="2026-10-01T16:00:00Z"),
        message(
            "c4", text="Export failed again.\n\nOn Wed:\n> x", created_at="2026-10-09T09:00:00Z"
        ),
    ]
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        result = Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
    statuses = {records[i.index]["external_id"]: (i.status, i.code) for i in result.items}
    assert statuses["r1"][0] == "accepted" and statuses["r3"][0] == "accepted"
    assert statuses["r2"] == ("duplicate", "near_duplicate")
    assert statuses["c2"] == ("duplicate", "near_duplicate")
    assert statuses["c3"][0] == "accepted"  # customers' numbers are not masked
    assert statuses["c4"][0] == "accepted"  # a week later the same complaint is news
