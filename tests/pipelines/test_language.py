"""Language identification at ingestion: non-English messages are marked and not scored."""

from __future__ import annotations

import pytest
from sqlmodel import select

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.language import shared_detector
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message
from tests.factories import message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The export failed again and nobody from support has answered us.", "en"),
        ("Das Update ist leider kaputt, bitte helfen Sie uns schnell.", "de"),
        ("Merci pour votre aide, tout fonctionne parfaitement maintenant.", "fr"),
        ("Gracias por la ayuda, ya funciona todo correctamente.", "es"),
        ("ok thanks", None),
        ("😍😍🔥", None),
    ],
)
def test_detects_languages_and_leaves_short_texts_unknown(text: str, expected: str | None) -> None:
    assert shared_detector().detect(text) == expected


def test_ingestion_fills_a_missing_language_and_keeps_a_given_one(database: Database) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
    records = [
        message("a", text="Die Rechnung ist falsch, bitte korrigieren Sie sie sofort."),
        message("b", text="The invoice is wrong, please fix it right away."),
        message("c", text="Die Rechnung stimmt nicht, wir warten seit Tagen.", language="de-AT"),
    ]
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
    with database.session() as session:
        languages = dict(session.exec(select(Message.external_id, Message.language)).all())
    assert languages == {"a": "de", "b": "en", "c": "de-AT"}


def test_detection_can_be_switched_off(database: Database) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        policy = IngestPolicy(detect_language=False)
        Ingestor(session, policy, channel="t", actor="t").messages(
            [message("a", text="Die Rechnung ist falsch, bitte korrigieren Sie sie sofort.")]
        )
    with database.session() as session:
        assert session.exec(select(Message.language)).one() is None
