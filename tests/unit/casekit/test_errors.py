"""Typed errors survive nameko's RPC error serialization as themselves."""

from __future__ import annotations

import json

import pytest
from nameko.exceptions import RemoteError, deserialize, serialize

from casekit.errors import (
    EXPECTED,
    CaseworkError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
    Unavailable,
)


def over_the_wire(exc: Exception) -> Exception:
    """What the caller rebuilds: serialize, send as JSON, deserialize."""
    return deserialize(json.loads(json.dumps(serialize(exc))))


@pytest.mark.parametrize("cls", [NotFound, Conflict, StaleVersion, PermissionDenied, Unavailable])
def test_typed_error_round_trips_to_its_own_class_with_its_message(cls: type[CaseworkError]) -> None:
    back = over_the_wire(cls("case 42 not here"))

    assert type(back) is cls
    assert back.message == "case 42 not here"
    assert str(back) == "case 42 not here"


def test_every_expected_error_is_registered_for_deserialization() -> None:
    for cls in EXPECTED:
        assert type(over_the_wire(cls("x"))) is cls, cls.__name__


def test_invalid_input_round_trips_with_its_fields() -> None:
    fields = [{"field": "customer.email", "message": "not an email"}, {"field": "title", "message": "empty"}]

    back = over_the_wire(InvalidInput("invalid input", fields))

    assert type(back) is InvalidInput
    assert back.message == "invalid input"
    assert back.fields == fields


def test_invalid_input_from_field_round_trips() -> None:
    back = over_the_wire(InvalidInput.from_field("cursor", "not a cursor this API issued"))

    assert isinstance(back, InvalidInput)
    assert back.fields == [{"field": "cursor", "message": "not a cursor this API issued"}]
    assert back.message == "cursor: not a cursor this API issued"


def test_stale_version_is_still_a_conflict_after_the_trip() -> None:
    back = over_the_wire(StaleVersion("version 3 is not current"))

    assert isinstance(back, Conflict)
    assert back.code == "STALE_VERSION"


def test_error_without_message_falls_back_to_its_code_on_both_sides() -> None:
    assert NotFound().message == "NOT_FOUND"
    assert over_the_wire(NotFound()).message == "NOT_FOUND"


def test_unregistered_exception_becomes_remote_error() -> None:
    class Surprise(Exception):
        pass

    back = over_the_wire(Surprise("boom"))

    assert type(back) is RemoteError
    assert back.exc_type == "Surprise"
    assert back.value == "boom"


def test_builtin_exception_becomes_remote_error() -> None:
    back = over_the_wire(KeyError("missing"))

    assert type(back) is RemoteError
    assert back.exc_type == "KeyError"
