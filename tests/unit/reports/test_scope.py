"""Periods, filters and groupings of a report request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.search.reports.scope import ScopeError, group_expr, parse_scope

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_last_five_days_ends_now_by_default() -> None:
    scope = parse_scope({"last": "5d"}, now=NOW)
    assert (scope.start, scope.end) == (NOW - timedelta(days=5), NOW)
    assert parse_scope({}, now=NOW).start == NOW - timedelta(days=30)
    assert parse_scope({"from": "2026-11-01", "to": "2026-11-02"}, now=NOW).start == datetime(
        2026, 11, 1, tzinfo=UTC
    )


def test_filters_become_bound_parameters_only() -> None:
    scope = parse_scope(
        {"queue": "q1'; DROP TABLE rp_cases; --", "case_type": "claim", "other": "x"}, now=NOW
    )
    params: dict = {}
    where = scope.case_where(params)
    assert "DROP" not in where and where.count(":f") == 2
    assert sorted(v for k, v in params.items() if k.startswith("f")) == [
        "claim",
        "q1'; DROP TABLE rp_cases; --",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"last": "5 days"}, "last"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ({"by": "colour"}, "by"),
        ({"limit": "0"}, "limit"),
        ({"level": "task"}, "level"),
        ({"team": "x" * 129}, "team"),
    ],
)
def test_bad_input_names_its_field(params: dict, field: str) -> None:
    with pytest.raises(ScopeError) as err:
        parse_scope(params, now=NOW, groups=("day", "queue"))
    assert err.value.field == field


def test_groupings_are_fixed_expressions() -> None:
    assert group_expr("week", "c.opened_at").startswith("to_char(date_trunc('week'")
    assert group_expr("agent", "c.opened_at") == "coalesce(c.assignee, '(none)')"
    with pytest.raises(KeyError):
        group_expr("1; DROP", "c.opened_at")
