"""The closed sets of values the service understands (sources, roles, outcomes)."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    """The channel a message came from."""

    TICKET = "ticket"
    CHAT = "chat"
    SURVEY = "survey"
    SOCIAL = "social"
    CSM_NOTE = "csm_note"
    CALL = "call"  # an utterance of a call transcript (connectors/transcripts.py)


class AuthorRole(StrEnum):
    """Who wrote a message, from the account's point of view."""

    CUSTOMER = "customer"
    AGENT = "agent"
    CSM = "csm"
    BOT = "bot"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """What happened to an account at a renewal point."""

    CHURNED = "churned"
    RENEWED = "renewed"
    EXPANDED = "expanded"
    DOWNGRADED = "downgraded"


class Role(StrEnum):
    """API key roles."""

    INGEST = "ingest"
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"
