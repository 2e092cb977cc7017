"""Wire validation: pydantic errors become InvalidInput naming each bad field by dotted path."""

from __future__ import annotations

from typing import Any

import pytest

from casekit.contracts.cases import CaseCreate, Priority
from casekit.contracts.validation import parse
from casekit.errors import InvalidInput


def valid(**overrides: Any) -> dict[str, Any]:
    return {"type": "complaint", "title": "No heating", **overrides}


def bad_fields(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse(CaseCreate, data)
    return {f["field"]: f["message"] for f in caught.value.fields}


def test_valid_case_parses_with_defaults() -> None:
    case = parse(CaseCreate, valid(customer={"name": "Ada", "email": "ada@example.org"}))

    assert case.priority is Priority.normal
    assert case.channel == "web"
    assert case.customer is not None and case.customer.email == "ada@example.org"


def test_nested_bad_email_is_named_by_dotted_path() -> None:
    fields = bad_fields(valid(customer={"name": "Ada", "email": "not-an-email"}))

    assert list(fields) == ["customer.email"]
    assert "email" in fields["customer.email"]


def test_unknown_field_is_rejected() -> None:
    assert list(bad_fields(valid(assignee="bob"))) == ["assignee"]


def test_unknown_nested_field_is_rejected() -> None:
    assert list(bad_fields(valid(customer={"name": "Ada", "vip": True}))) == ["customer.vip"]


@pytest.mark.parametrize("priority", ["critical", "HIGH", "", 3])
def test_bad_priority_is_rejected(priority: object) -> None:
    assert list(bad_fields(valid(priority=priority))) == ["priority"]


@pytest.mark.parametrize("priority", ["low", "normal", "high", "urgent"])
def test_every_priority_is_accepted(priority: str) -> None:
    assert parse(CaseCreate, valid(priority=priority)).priority == priority


def test_every_bad_field_is_reported_at_once() -> None:
    fields = bad_fields({"type": "Bad Type!", "title": "", "priority": "nope"})

    assert set(fields) == {"type", "title", "priority"}


def test_missing_required_field_is_named() -> None:
    assert list(bad_fields({"title": "x"})) == ["type"]


def test_nested_value_of_the_wrong_type_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(CaseCreate, valid(customer={"name": ["not", "a", "string"]}))

    assert [f["field"] for f in caught.value.fields] == ["customer.name"]


@pytest.mark.parametrize("body", [[1, 2], "text", None, 7])
def test_a_body_that_is_not_an_object_is_reported_as_body(body: object) -> None:
    assert list(bad_fields(body)) == ["body"]


def test_invalid_input_message_is_generic_and_fields_carry_detail() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(CaseCreate, valid(customer={"name": "Ada", "email": "x"}))

    assert caught.value.message == "invalid input"
    assert caught.value.code == "INVALID_INPUT"
