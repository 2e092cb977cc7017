"""The error table at the HTTP edge: typed errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask, g
from nameko.exceptions import RemoteError

from casekit.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionRequired,
    StaleVersion,
    Unavailable,
)
from gateway.errors import PROBLEM_JSON, HttpProblem, from_exception, problem


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    with Flask(__name__).test_request_context():
        yield


def body(response) -> dict:
    return json.loads(response.get_data())


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (NotFound("case 1 not found"), 404, "NOT_FOUND"),
        (StaleVersion("version 2 is stale"), 412, "STALE_VERSION"),
        (Conflict("already closed"), 409, "CONFLICT"),
        (PreconditionRequired("send If-Match"), 428, "PRECONDITION_REQUIRED"),
        (InvalidInput("invalid input", [{"field": "title", "message": "empty"}]), 422, "INVALID_INPUT"),
        (PermissionDenied("agents only"), 403, "FORBIDDEN"),
        (Unavailable("search is down"), 503, "UNAVAILABLE"),
    ],
)
def test_each_typed_error_maps_to_its_status_and_code(exc: Exception, status: int, code: str) -> None:
    response = from_exception(exc)

    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    out = body(response)
    assert out["status"] == status
    assert out["code"] == code
    assert out["detail"] == exc.message
    assert out["type"] == f"https://casework.dev/problems/{code.lower().replace('_', '-')}"
    assert out["title"]


def test_invalid_input_carries_its_field_errors() -> None:
    fields = [{"field": "customer.email", "message": "not an email"}]

    assert body(from_exception(InvalidInput("invalid input", fields)))["errors"] == fields


@pytest.mark.parametrize("exc", [NotFound("x"), Conflict("x"), PermissionDenied("x")])
def test_other_errors_have_no_errors_member(exc: Exception) -> None:
    assert "errors" not in body(from_exception(exc))


def test_unavailable_tells_the_client_when_to_retry() -> None:
    assert from_exception(Unavailable("down")).headers["Retry-After"] == "5"


def test_only_503_gets_retry_after() -> None:
    assert "Retry-After" not in from_exception(Conflict("x")).headers


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("password=hunter2 at db.internal:5432"),
        KeyError("secret-key"),
        RemoteError("ValueError", "A string literal cannot contain NUL (0x00) characters."),
    ],
)
def test_an_unmapped_error_is_500_without_leaking_its_message(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        response = from_exception(exc)

    assert response.status_code == 500
    assert response.mimetype == PROBLEM_JSON
    out = body(response)
    assert out["code"] == "UNEXPECTED_ERROR"
    raw = response.get_data(as_text=True)
    for secret in ("hunter2", "secret-key", "NUL"):
        assert secret not in raw
    assert caplog.records, "the unexpected error is logged for operators"


def test_http_problem_passes_through_with_its_headers() -> None:
    exc = HttpProblem(
        416, "RANGE_NOT_SATISFIABLE", "Range not satisfiable", "", headers={"Content-Range": "bytes */9"}
    )

    response = from_exception(exc)

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */9"
    assert body(response)["detail"] == "Range not satisfiable"


def test_the_request_id_is_included_when_known() -> None:
    g.request_id = "req-42"

    assert body(problem(404, "NOT_FOUND", "Not found"))["request_id"] == "req-42"


def test_a_caller_supplied_retry_after_is_kept() -> None:
    response = problem(503, "UNAVAILABLE", "Service unavailable", headers={"Retry-After": "30"})

    assert response.headers.getlist("Retry-After") == ["30"]
