"""Query filters that several layers share, so that they cannot drift apart."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col

from sentiment_service.storage.tables import Message
from sentiment_service.vocabulary import AuthorRole


def from_customer() -> ColumnElement[bool]:
    """Messages written by the account's customers: the only ones that sentiment windows,
    daily rollups, trends and topic periods count (agents, CSMs and bots are left out)."""
    return col(Message.author_role) == AuthorRole.CUSTOMER.value
