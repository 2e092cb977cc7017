"""The pure derivation: an envelope's row, a case's visits, steps and current row."""

from __future__ import annotations

import random

from services.search.reports import derive
from tests.unit.reports import histories as hx


def _rows(name: str) -> list[dict]:
    return [r for e in hx.build() if (r := derive.to_row(e)) and r["case_id"] == hx.IDS[name]]


def test_visits_of_a_case_with_rework_and_reopen_in_any_order() -> None:
    rows = _rows("B")
    random.Random(7).shuffle(rows)
    got = derive.derive(hx.IDS["B"], rows)
    assert [
        (v["stage"], v["entered_at"], v["left_at"], v["next_stage"], v["rework"]) for v in got.visits
    ] == [
        ("received", hx.h(0), hx.h(1), "investigating", False),
        ("investigating", hx.h(1), hx.h(3), "received", False),
        ("received", hx.h(3), hx.h(4), "investigating", True),
        ("investigating", hx.h(4), hx.h(6), "(closed)", True),
        ("(closed)", hx.h(6), hx.h(30), "investigating", False),
        ("investigating", hx.h(30), hx.h(32), "(closed)", True),
        ("(closed)", hx.h(32), None, None, False),
    ]
    case = got.case
    assert case["variant"] == hx.VARIANT_B
    assert (case["status"], case["resolution"], case["closed_at"], case["reopened"]) == (
        "closed",
        "upheld",
        hx.h(32),
        1,
    )
    assert (case["queue"], case["assignee"], case["version"], case["opened_at"]) == ("q1", None, 7, hx.h(0))


def test_activity_steps_follow_each_other() -> None:
    got = derive.derive(hx.IDS["A"], _rows("A"))
    assert [(s["seq"], s["activity"], s["next_activity"]) for s in got.steps] == [
        (1, "opened", "stage investigating"),
        (2, "stage investigating", "task call"),
        (3, "task call", "stage resolving"),
        (4, "stage resolving", "closed"),
        (5, "closed", None),
    ]
    assert got.steps[2]["next_at"] == hx.h(8)


def test_routing_fields_are_read_defensively() -> None:
    rows = _rows("C")
    assert derive.derive(hx.IDS["C"], rows).case["assignee"] == "alice"
    bare = {
        "id": "e1",
        "type": "sla_breached",
        "v": 1,
        "occurred_at": hx.h(1).isoformat(),
        "producer": "routing",
        "case_id": hx.IDS["C"],
        "case_version": None,
        "data": {"met": "yes"},
    }
    row = derive.to_row(bare)
    assert (row["clock"], row["met"], row["queue"], row["elapsed_seconds"]) == (None, None, None, None)
    assert derive.to_row({**bare, "case_id": None}) is None


def test_routing_events_alone_make_no_case() -> None:
    rows = [r for r in _rows("C") if r["source"] == "routing"]
    assert derive.derive(hx.IDS["C"], rows).case is None
