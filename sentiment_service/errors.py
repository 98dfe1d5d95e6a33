"""The service's exception hierarchy; the API maps each class to one HTTP status."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=Exception)


class ServiceError(Exception):
    """Base class of errors the service raises on purpose; `field` names the culprit input."""

    status_code = 500
    title = "Internal error"
    retry_after_seconds: int | None = None  # sent as Retry-After when set

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFoundError(ServiceError):
    """A referenced resource does not exist."""

    status_code = 404
    title = "Not found"


class ConflictError(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409
    title = "Conflict"


class InvalidInputError(ServiceError):
    """The request is well-formed JSON but not acceptable."""

    status_code = 422
    title = "Invalid input"


class PayloadTooLargeError(ServiceError):
    """The request or batch exceeds a configured limit."""

    status_code = 413
    title = "Payload too large"


class NotReadyError(ServiceError):
    """A dependency (database, migrations, model) is not available."""

    status_code = 503
    title = "Service not ready"


class DatabaseUnavailableError(NotReadyError):
    """The database cannot be reached right now (down, restarting, connection lost)."""

    retry_after_seconds = 5


class DatabaseReadOnlyError(ServiceError):
    """The database refuses writes (read-only replica, setting or file)."""

    status_code = 503
    title = "Database is read-only"
    retry_after_seconds = 30


class DatabaseFullError(ServiceError):
    """The database has no room left for writes (disk full, size limit reached)."""

    status_code = 507
    title = "Insufficient storage"


def handled_as(exc: Exception, kind: type[E]) -> E:
    """`exc` as the `kind` its exception handler is registered for; a TypeError when it is
    something else (a handler registered for the wrong class)."""
    if not isinstance(exc, kind):
        raise TypeError(f"a {kind.__name__} handler was given {type(exc).__name__}") from exc
    return exc
