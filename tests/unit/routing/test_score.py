"""The queue score: its terms, its explanation, and the time-invariant rank behind the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from casekit.errors import InvalidInput
from services.routing.logic.common import effective_priority
from services.routing.logic.views import BulkIn, decode_cursor, encode_cursor, score

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def item(**over: Any) -> SimpleNamespace:
    base = {
        "priority": 2,
        "base_priority": 2,
        "priority_boost": 0,
        "escalated_priority": 0,
        "due_at": None,
        "case_created_at": T0,
        "created_at": T0,
        "case_id": "c",
    }
    return SimpleNamespace(**{**base, **over})


def rank(i: SimpleNamespace) -> float:
    """What the database trigger ``work_item_rank`` stores (see the migration)."""
    born = i.case_created_at
    due = i.due_at or born + timedelta(hours=72)
    hours = lambda t: (t - EPOCH).total_seconds() / 3600  # noqa: E731
    return 10.0 * i.priority - hours(due) - 0.1 * hours(born)


def test_the_terms_add_up_and_say_why() -> None:
    s = score(item(priority=3, due_at=T0 + timedelta(hours=4)), T0 + timedelta(hours=10))
    terms = {c["term"]: c for c in s["components"]}
    assert terms["priority"]["points"] == 30
    assert terms["sla"]["points"] == 6.0 and terms["sla"]["why"] == "SLA deadline passed 6.0 h ago"
    assert terms["age"]["points"] == 1.0
    assert s["score"] == 37.0
    ahead = score(item(due_at=T0 + timedelta(hours=20)), T0 + timedelta(hours=10))
    assert {c["term"]: c["why"] for c in ahead["components"]}["sla"] == "10.0 h left on the SLA clock"


def test_no_sla_clock_counts_as_due_72_hours_after_opening() -> None:
    s = score(item(), T0)
    sla = next(c for c in s["components"] if c["term"] == "sla")
    assert sla["points"] == -72.0 and "72 h after opening" in sla["why"]


@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=5), timedelta(days=30)])
def test_the_stored_rank_orders_exactly_like_the_score_at_any_time(later: timedelta) -> None:
    items = [
        item(priority=4, case_id="urgent-new", case_created_at=T0 + timedelta(hours=2)),
        item(priority=2, case_id="normal-due-soon", due_at=T0 + timedelta(hours=1)),
        item(priority=1, case_id="old-low", case_created_at=T0 - timedelta(days=20)),
        item(priority=3, case_id="high-overdue", due_at=T0 - timedelta(hours=3)),
    ]
    at = T0 + later
    by_score = sorted(items, key=lambda i: score(i, at)["score"], reverse=True)
    by_rank = sorted(items, key=rank, reverse=True)
    assert [i.case_id for i in by_score] == [i.case_id for i in by_rank]
    for i in items:  # score = rank + 1.1 x hours since the epoch
        assert score(i, at)["score"] == pytest.approx(
            rank(i) + 1.1 * (at - EPOCH).total_seconds() / 3600, abs=1e-3
        )


def test_effective_priority_is_boosted_capped_and_raised_by_escalation() -> None:
    assert effective_priority(item(base_priority=3, priority_boost=2)) == 4
    assert effective_priority(item(base_priority=1, priority_boost=-3)) == 1
    assert effective_priority(item(base_priority=1, escalated_priority=3)) == 3


def test_cursors_round_trip_and_garbage_is_a_field_error() -> None:
    i = SimpleNamespace(rank=-123456.789012345, case_id="abc")
    assert decode_cursor(encode_cursor(i)) == (-123456.789012345, "abc")
    with pytest.raises(InvalidInput) as caught:
        decode_cursor("not-a-cursor")
    assert caught.value.fields[0]["field"] == "cursor"


def test_bulk_input_needs_a_selection_and_an_action() -> None:
    with pytest.raises(InvalidInput):
        BulkIn.parse({"reason": "x", "to_queue": "q"})
    with pytest.raises(InvalidInput):
        BulkIn.parse({"reason": "x", "case_ids": ["a"]})
    with pytest.raises(InvalidInput):
        BulkIn.parse({"reason": "x", "case_ids": ["a"], "assignees": ["b"], "unassign": True})
    assert BulkIn.parse({"reason": "x", "from_assignee": "ann", "assignees": ["bob"]}).assignees == ["bob"]
