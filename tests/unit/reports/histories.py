"""Known case histories (envelopes built to the event contract) and their hand-computed figures.

A: complaint, high, email: received 0-2h, investigating 2-8h (task "call" done at 3h),
   resolving 8-10h, closed "upheld" at 10h. Queue q1, alice; first response met, resolution met.
B: complaint, normal, web: received 0-1h, investigating 1-3h, back to received 3-4h (rework),
   investigating 4-6h (rework), closed "rejected" at 6h, reopened into investigating at 30h
   (rework), closed "upheld" at 32h. Queue q1, bob; first response breached and missed,
   resolution missed.
C: claim, low, email: received 5-6h, investigating from 6h (still open). Queue q2, alice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from casekit.contracts.events import make_envelope

T0 = datetime(2026, 11, 1, tzinfo=UTC)
END = T0 + timedelta(hours=48)
IDS = {
    "A": "aaaaaaaa-0000-4000-8000-000000000001",
    "B": "bbbbbbbb-0000-4000-8000-000000000002",
    "C": "cccccccc-0000-4000-8000-000000000003",
}
ATTRS = {
    "A": {"type": "complaint", "priority": "high", "channel": "email", "team": "t1"},
    "B": {"type": "complaint", "priority": "normal", "channel": "web", "team": "t1"},
    "C": {"type": "claim", "priority": "low", "channel": "email", "team": "t2"},
}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _case(name: str, version: int, stage: str, status: str, opened: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": IDS[name],
        "reference": f"REF-{name}",
        **ATTRS[name],
        "stage": stage,
        "status": status,
        "version": version,
        "created_at": h(opened).isoformat(),
        **extra,
    }


def _cases_events(name: str, opened: float, steps: list[tuple[str, float, str, str, dict[str, Any]]]) -> list:
    out = []
    for version, (kind, at, stage, status, extra) in enumerate(steps, 1):
        snap_extra = {k: v for k, v in extra.items() if k in ("resolution", "closed_at")}
        data: dict[str, Any] = {"case": _case(name, version, stage, status, opened, **snap_extra)}
        data.update({k: v for k, v in extra.items() if k not in ("closed_at",)})
        out.append(
            make_envelope(
                producer="cases",
                type=kind,
                data=data,
                case_id=IDS[name],
                case_version=version,
                occurred_at=h(at),
            )
        )
    return out


def _routing(name: str, kind: str, at: float, **data: Any) -> dict[str, Any]:
    return make_envelope(producer="routing", type=kind, data=data, case_id=IDS[name], occurred_at=h(at))


def _clock(
    name: str, kind: str, at: float, clock: str, queue: str, met: bool | None = None
) -> dict[str, Any]:
    data = {
        "clock": clock,
        "queue": queue,
        "due_at": None,
        "target_seconds": 7200,
        "elapsed_seconds": 3600,
        "reason": "test",
        "supervisor_ids": [],
        "assignee": None,
    }
    if met is not None:
        data["met"] = met
    return _routing(name, kind, at, **data)


def build() -> list[dict[str, Any]]:
    closed_a = {"resolution": "upheld", "closed_at": h(10).isoformat(), "reason": None}
    a = _cases_events(
        "A",
        0,
        [
            ("case_opened", 0, "received", "open", {}),
            (
                "case_transitioned",
                2,
                "investigating",
                "open",
                {"from_stage": "received", "to_stage": "investigating"},
            ),
            ("task_completed", 3, "investigating", "open", {"task": {"key": "call", "title": "Call back"}}),
            (
                "case_transitioned",
                8,
                "resolving",
                "open",
                {"from_stage": "investigating", "to_stage": "resolving"},
            ),
            ("case_closed", 10, "resolving", "closed", closed_a),
        ],
    )
    b = _cases_events(
        "B",
        0,
        [
            ("case_opened", 0, "received", "open", {}),
            ("case_transitioned", 1, "investigating", "open", {}),
            ("case_transitioned", 3, "received", "open", {}),
            ("case_transitioned", 4, "investigating", "open", {}),
            (
                "case_closed",
                6,
                "investigating",
                "closed",
                {"resolution": "rejected", "closed_at": h(6).isoformat()},
            ),
            ("case_reopened", 30, "investigating", "open", {"reason": "customer came back"}),
            (
                "case_closed",
                32,
                "investigating",
                "closed",
                {"resolution": "upheld", "closed_at": h(32).isoformat()},
            ),
        ],
    )
    c = _cases_events(
        "C",
        5,
        [
            ("case_opened", 5, "received", "open", {}),
            ("case_transitioned", 6, "investigating", "open", {}),
        ],
    )
    routing = [
        _routing(
            "A",
            "case_queued",
            0,
            queue="q1",
            previous_queue=None,
            rule=None,
            reference="REF-A",
            title="a",
            priority="high",
            supervisor_ids=[],
        ),
        _routing(
            "A",
            "case_assigned",
            1,
            queue="q1",
            assignee="alice",
            previous_assignee=None,
            via="claim",
            by="alice",
            lease_expires_at=None,
        ),
        _clock("A", "sla_clock_stopped", 1, "first_response", "q1", met=True),
        _routing("A", "case_unassigned", 10, queue="q1", previous_assignee="alice", reason="closed", by=None),
        _clock("A", "sla_clock_stopped", 10, "resolution", "q1", met=True),
        _routing(
            "B",
            "case_queued",
            0,
            queue="q1",
            previous_queue=None,
            rule=None,
            reference="REF-B",
            title="b",
            priority="normal",
            supervisor_ids=[],
        ),
        _routing(
            "B",
            "case_assigned",
            0.5,
            queue="q1",
            assignee="bob",
            previous_assignee=None,
            via="assign",
            by="sup",
            lease_expires_at=None,
        ),
        _clock("B", "sla_breached", 2, "first_response", "q1"),
        _clock("B", "sla_clock_stopped", 2.5, "first_response", "q1", met=False),
        _routing("B", "case_unassigned", 6, queue="q1", previous_assignee="bob", reason="closed", by=None),
        _clock("B", "sla_clock_stopped", 32, "resolution", "q1", met=False),
        _routing(
            "C",
            "case_queued",
            5,
            queue="q2",
            previous_queue=None,
            rule=None,
            reference="REF-C",
            title="c",
            priority="low",
            supervisor_ids=[],
        ),
        _routing(
            "C",
            "case_assigned",
            5,
            queue="q2",
            assignee="alice",
            previous_assignee=None,
            via="claim",
            by="alice",
            lease_expires_at=None,
        ),
    ]
    return a + b + c + routing


VARIANT_A = "received > investigating > resolving > (closed)"
VARIANT_B = "received > investigating > received > investigating > (closed) > investigating > (closed)"
VARIANT_C = "received > investigating"
