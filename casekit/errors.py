"""Errors that cross the RPC boundary and deserialize to themselves on the caller.

nameko rebuilds a remote exception as the same class only when the class is
registered with ``deserialize_to_instance`` at the same dotted path on both
sides, and it rebuilds it as ``cls(*exc_args)``: every constructor here takes
JSON-safe positional arguments only.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class CaseworkError(Exception):
    """Base of the typed family; ``code`` is stable and part of the public API."""

    code = "ERROR"

    def __init__(self, message: str = "", *details: Any) -> None:
        super().__init__(message, *details)
        self.message = message or self.code


@deserialize_to_instance
class NotFound(CaseworkError):
    code = "NOT_FOUND"


@deserialize_to_instance
class Conflict(CaseworkError):
    code = "CONFLICT"


@deserialize_to_instance
class StaleVersion(Conflict):
    """The change named a version that is no longer current."""

    code = "STALE_VERSION"


@deserialize_to_instance
class PreconditionRequired(CaseworkError):
    """A change to a stored versioned resource named no version (no ``If-Match``)."""

    code = "PRECONDITION_REQUIRED"


@deserialize_to_instance
class PermissionDenied(CaseworkError):
    code = "PERMISSION_DENIED"


@deserialize_to_instance
class Unavailable(CaseworkError):
    code = "UNAVAILABLE"


@deserialize_to_instance
class DatabaseUnavailable(Unavailable):
    """The service's database is down or not answering; the request may be retried.

    ``retry_after`` (seconds) becomes the HTTP ``Retry-After`` header at the gateway.
    """

    code = "UNAVAILABLE"

    def __init__(self, message: str = "", retry_after: int = 5) -> None:
        super().__init__(message or "the database is unavailable", retry_after)
        self.retry_after = int(retry_after)


@deserialize_to_instance
class InvalidInput(CaseworkError):
    """Bad input; ``fields`` is a list of ``{"field": "a.b", "message": "..."}``."""

    code = "INVALID_INPUT"

    def __init__(self, message: str = "", fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, fields or [])
        self.fields = fields or []

    @classmethod
    def from_field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


EXPECTED = (
    NotFound,
    Conflict,
    StaleVersion,
    PreconditionRequired,
    PermissionDenied,
    InvalidInput,
    Unavailable,
    DatabaseUnavailable,
)
