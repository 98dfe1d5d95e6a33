"""Errors raised by connectors and their HTTP layer (messages never carry credentials)."""

from __future__ import annotations


class ConnectorError(Exception):
    """A connector could not finish its work."""


class ConfigError(ConnectorError):
    """The connector configuration is invalid."""


class AuthenticationError(ConnectorError):
    """The vendor refused our credentials (401/403): retrying will not help."""


class BudgetExhausted(ConnectorError):
    """The per-sync request budget is spent; the next sync resumes from the stored cursor."""


class VendorHttpError(ConnectorError):
    """The vendor answered with a non-retryable error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TransientError(ConnectorError):
    """A failure worth retrying (5xx, timeout, connection error, invalid JSON)."""


class RateLimited(TransientError):
    """HTTP 429; `delay` is what the vendor asked us to wait, if it said."""

    def __init__(self, message: str, delay: float | None) -> None:
        super().__init__(message)
        self.delay = delay


class RetriesExhausted(ConnectorError):
    """A transient failure persisted through every retry."""
