"""The query language, requests, cursors and normalisation (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.search.mappings import index_fields, normalise_phone, sort_keys
from services.search.queries import QueryError, Range, build_request, encode_cursor, parse
from tests.unit.search.factories import snapshot


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+44 20 7946 0000", "442079460000"),
        ("020 7946 0000", "442079460000"),
        ("0044 20 7946 0000", "442079460000"),
        ("(020) 7946-0000", "442079460000"),
        ("+1 (555) 010-0199", "15550100199"),
        ("", ""),
    ],
)
def test_phones_normalise_to_international_digits(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits


def test_the_default_country_code_is_a_setting() -> None:
    assert normalise_phone("0612 345 678", country_code="31") == "31612345678"


def test_the_query_language() -> None:
    parsed = parse(
        'boiler "gas leak" boil* -draft type:claim status:open created:>=2026-01-01 priority:>=high'
    )

    assert parsed.words == ["boiler"]
    assert parsed.phrases == ["gas leak"]
    assert parsed.prefixes == ["boil"]
    assert parsed.excluded == ["draft"]
    assert parsed.filters == {"type": ["claim"], "status": ["open"]}
    assert parsed.ranges == [
        Range("created_at", low=datetime(2026, 1, 1, tzinfo=UTC)),
        Range("priority_rank", low=3),
    ]


def test_phones_emails_and_references_stay_whole() -> None:
    parsed = parse("call 020 7946 0000 or ann@example.org about CMP-2026-000001 on 2026-01-05")

    assert parsed.phones == ["442079460000"]
    assert parsed.words == ["call", "or", "ann@example.org", "about", "CMP-2026-000001", "on", "2026-01-05"]


def test_filters_normalise_emails_and_phones() -> None:
    parsed = parse("email:Ann@Example.ORG phone:+44(20)79460000 priority:high")

    assert parsed.filters == {"email": ["ann@example.org"], "phone": ["442079460000"], "priority": ["high"]}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "sideways"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor("newest", 5)}, "cursor"),  # another sort's cursor
        ({"filters": {"password": "x"}}, "password"),
        ({"ranges": {"created": ">=yesterday"}}, "q"),
    ],
)
def test_bad_requests_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(QueryError) as raised:
        build_request("boiler", **kwargs)
    assert raised.value.field == field


def test_limits_are_bounded() -> None:
    assert build_request(limit=0).limit == 1
    assert build_request(limit=10_000).limit == 100


def test_sort_keys_order_by_date_then_priority_and_never_tie() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)

    assert sort_keys("a", early, 4)[0] < sort_keys("a", late, 1)[0]
    assert sort_keys("a", late, 1)[1] < sort_keys("b", early, 2)[1]
    assert sort_keys("a", early, 2) != sort_keys("b", early, 2)


def test_index_fields_of_a_case() -> None:
    case = snapshot(team="north", restricted=True, data={"product": "gas", "meter": {"id": 7}})
    source = {
        "case_id": case["id"],
        "case": case,
        "case_version": 3,
        "notes": {"n": {"body": "called"}},
        "documents": {"d": {"text": "letter", "filename": "a.txt"}},
        "routing": {"queue": "billing", "assignee": None},
        "sla": {"state": "warning"},
    }

    fields = index_fields(source)

    assert (fields["team"], fields["restricted"], fields["ready"]) == ("north", 1, 1)
    assert fields["emails"] == ["ada.lovelace@example.org"] and fields["phones"] == ["442079460000"]
    assert fields["custom"] == ["product gas", "meter id 7"]
    assert (fields["queue"], fields["assignee"], fields["sla"]) == ("billing", "_none", "warning")
    assert fields["notes"] == ["called"] and fields["documents"] == ["letter"]


def test_the_cli_progress_bar() -> None:
    from services.search.cli import progress_bar

    assert progress_bar(50, 200, 2.0, width=8) == "[##......]  25.0% 50/200 cases    2.0 s       25/s"
    assert progress_bar(0, 0, 0.0, width=4).startswith("[####] 100.0%")
