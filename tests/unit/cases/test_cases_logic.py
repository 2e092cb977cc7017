"""Pure rules of the cases service: case type definitions and list cursors."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casekit.errors import InvalidInput
from services.cases.logic import _decode_cursor, _encode_cursor, validate_definition


def definition(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "complaint",
        "name": "Complaint",
        "prefix": "CMP",
        "stages": [{"key": "triage"}, {"key": "resolution"}],
        "data_schema": {"type": "object", "properties": {"flat": {"type": "string"}}},
        **overrides,
    }


def errors(value: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        validate_definition(value)
    return caught.value.fields


def test_a_valid_definition_is_returned_unchanged() -> None:
    d = definition(sla_hours=48)

    assert validate_definition(d) is d


def test_a_missing_key_is_reported() -> None:
    d = definition()
    del d["key"]

    (error,) = errors(d)
    assert error["field"] in ("definition", "definition.key")
    assert "'key'" in error["message"]


@pytest.mark.parametrize("prefix", ["cmp", "C", "TOOLONGPREFIX", "CM1", ""])
def test_a_bad_prefix_is_named(prefix: str) -> None:
    assert [e["field"] for e in errors(definition(prefix=prefix))] == ["definition.prefix"]


def test_an_invalid_data_schema_is_named() -> None:
    (error,) = errors(definition(data_schema={"type": "no-such-type"}))

    assert error["field"] == "definition.data_schema"


def test_a_data_schema_that_is_not_an_object_is_named() -> None:
    assert [e["field"] for e in errors(definition(data_schema=["type", "object"]))] == [
        "definition.data_schema"
    ]


def test_a_bad_stage_key_is_named_by_index() -> None:
    fields = [e["field"] for e in errors(definition(stages=[{"key": "ok"}, {"key": "Not OK"}]))]

    assert fields == ["definition.stages.1.key"]


def test_every_problem_is_reported_at_once() -> None:
    fields = {e["field"] for e in errors(definition(key="Bad Key", prefix="x", name=""))}

    assert fields == {"definition.key", "definition.prefix", "definition.name"}


@pytest.mark.parametrize("value", [None, [], "key: complaint", 3])
def test_a_definition_that_is_not_a_mapping_is_refused(value: Any) -> None:
    assert errors(value) == [{"field": "definition", "message": "must be a mapping"}]


def test_a_cursor_round_trips() -> None:
    at = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
    case_id = str(uuid.uuid4())

    assert _decode_cursor(_encode_cursor(at, case_id)) == (at, case_id)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        "abc",
        b64(b"no separator here"),
        b64(b"not-a-date|" + str(uuid.uuid4()).encode()),
        b64(b"\xff\xfe|x"),
        "ä",
    ],
)
def test_a_garbage_cursor_is_invalid_input_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _decode_cursor(cursor)

    assert caught.value.fields == [{"field": "cursor", "message": "not a cursor this API issued"}]


@given(st.text(max_size=200))
def test_any_text_either_decodes_or_is_invalid_input(cursor: str) -> None:
    try:
        stamp, case_id = _decode_cursor(cursor)
    except InvalidInput as exc:
        assert exc.fields[0]["field"] == "cursor"
    else:
        assert isinstance(stamp, datetime) and isinstance(case_id, str)


def test_a_cursor_whose_id_was_never_issued_is_invalid_input() -> None:
    # the id goes into the SQL comparison; a NUL byte makes psycopg2 raise (a 500, not a 422)
    forged = b64(b"2024-05-01T09:30:00+00:00|\x00")

    with pytest.raises(InvalidInput):
        _decode_cursor(forged)
