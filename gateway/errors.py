"""Errors at the HTTP edge: one table from error type to (status, stable code), RFC 9457 bodies."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, g, json

from casekit.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionRequired,
    StaleVersion,
    Unavailable,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# most specific first: StaleVersion is a Conflict
MAPPED: list[tuple[type[Exception], int, str, str]] = [
    (NotFound, 404, "NOT_FOUND", "Not found"),
    (StaleVersion, 412, "STALE_VERSION", "Precondition failed"),
    (Conflict, 409, "CONFLICT", "Conflict"),
    (PreconditionRequired, 428, "PRECONDITION_REQUIRED", "Precondition required"),
    (InvalidInput, 422, "INVALID_INPUT", "Invalid input"),
    (PermissionDenied, 403, "FORBIDDEN", "Forbidden"),
    (Unavailable, 503, "UNAVAILABLE", "Service unavailable"),
]


class HttpProblem(Exception):
    """Raised by routes to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.fields = fields or []
        self.headers = headers or {}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str = "",
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://casework.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail or title,
    }
    if fields:
        body["errors"] = fields
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if status == 503:
        response.headers.setdefault("Retry-After", "5")
    return response


def from_exception(exc: Exception) -> Response:
    if isinstance(exc, HttpProblem):
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.fields, exc.headers)
    for exc_type, status, code, title in MAPPED:
        if isinstance(exc, exc_type):
            message = getattr(exc, "message", "") or str(exc)
            fields = getattr(exc, "fields", None) if isinstance(exc, InvalidInput) else None
            retry_after = getattr(exc, "retry_after", None)  # e.g. DatabaseUnavailable
            headers = {"Retry-After": str(retry_after)} if status == 503 and retry_after else None
            return problem(status, code, title, message, fields, headers)
    log.error("unexpected error", exc_info=exc)
    return problem(500, "UNEXPECTED_ERROR", "Internal server error", "an unexpected error occurred")
