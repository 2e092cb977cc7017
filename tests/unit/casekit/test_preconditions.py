"""If-Match / If-None-Match as the versioned resources read them (casekit.preconditions).

The atomic half (the check under a row lock, the insert that loses a race) runs against
PostgreSQL in tests/integration/test_routing_versions.py and test_notifications_versions.py.
"""

from __future__ import annotations

import pytest

from casekit.errors import InvalidInput, PreconditionRequired, StaleVersion
from casekit.preconditions import check, etag, from_headers


def test_headers_become_a_json_safe_precondition() -> None:
    assert from_headers(None, None) == {"if_match": None, "if_none_match": None}
    assert from_headers("  ", "") == {"if_match": None, "if_none_match": None}
    assert from_headers('"3"') == {"if_match": [3], "if_none_match": None}
    assert from_headers('"3", W/"4" ,5') == {"if_match": [3, 4, 5], "if_none_match": None}
    assert from_headers(" * ", "*") == {"if_match": "*", "if_none_match": "*"}
    # a tag that names no version of ours is kept, so it fails as stale instead of vanishing
    assert from_headers('"abc"') == {"if_match": [-1], "if_none_match": None}
    assert from_headers(None, '"0"') == {"if_match": None, "if_none_match": [0]}
    assert etag(7) == '"7"' and etag(None) == etag(0) == '"0"'


@pytest.mark.parametrize(
    ("current", "if_match", "if_none_match", "outcome"),
    [
        # no header: creating is allowed, changing a stored resource needs If-Match (428)
        (0, None, None, None),
        (3, None, None, PreconditionRequired),
        # If-Match with versions: the stored one must be named; "0" names "nothing stored yet"
        (3, '"3"', None, None),
        (3, '"2"', None, StaleVersion),
        (3, '"2", "3"', None, None),
        (0, '"0"', None, None),
        (1, '"0"', None, StaleVersion),
        (3, '"not-a-version"', None, StaleVersion),
        # If-Match: * needs something stored
        (3, "*", None, None),
        (0, "*", None, StaleVersion),
        # If-None-Match: * creates only; with versions, refuses those
        (0, None, "*", None),
        (1, None, "*", StaleVersion),
        (2, None, '"2"', StaleVersion),
        (2, None, '"1"', None),
        # both: each must hold
        (2, '"2"', '"2"', StaleVersion),
    ],
)
def test_the_rules_of_every_versioned_resource(
    current: int, if_match: str | None, if_none_match: str | None, outcome: type[Exception] | None
) -> None:
    precondition = from_headers(if_match, if_none_match)
    if outcome is None:
        check(current, precondition, "thing")
    else:
        with pytest.raises(outcome) as raised:
            check(current, precondition, "thing")
        assert "thing" in raised.value.message


def test_the_missing_precondition_says_which_etag_to_send() -> None:
    with pytest.raises(PreconditionRequired) as raised:
        check(4, from_headers(None), "calendar uk-office")
    assert raised.value.message == (
        'the calendar uk-office exists (version 4): send If-Match with its ETag "4"'
    )


def test_internal_callers_without_a_precondition_are_unconditional() -> None:
    for current in (0, 1, 9):
        check(current, None, "thing")


@pytest.mark.parametrize(
    "bad", [{"if_match": "3", "if_none_match": None}, {"if_match": [True], "if_none_match": None}, ["*"]]
)
def test_a_malformed_precondition_is_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInput):
        check(1, bad, "thing")  # type: ignore[arg-type]
