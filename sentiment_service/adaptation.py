"""Stored label corrections as training rows for `models.sentiment.adapt`."""

from __future__ import annotations

from sqlmodel import Session, col, select

from sentiment_service.storage.tables import LabelCorrection, Message


def load_corrections(session: Session) -> list[tuple[str, str]]:
    """(message text, newest corrected label) for every corrected message, oldest message first.

    A message corrected several times counts once, with the label of its newest correction
    (the same rule as the `corrections` labelled set).
    """
    rows = session.exec(
        select(LabelCorrection.message_id, LabelCorrection.label, Message.text)
        .join(Message, col(Message.id) == col(LabelCorrection.message_id))
        .order_by(col(LabelCorrection.message_id), col(LabelCorrection.id))
    ).all()
    newest: dict[int, tuple[str, str]] = {}
    for message_id, label, text in rows:
        newest[message_id] = (text, label)
    return list(newest.values())
