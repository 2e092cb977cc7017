"""Pure functions: an event envelope -> an ``rp_events`` row; a case's rows -> its derived rows.

Everything derived about a case (its current row, its stage visits, its activity steps) is
recomputed from all of its stored events in order, so redelivery, duplicates and events that
arrive out of order cannot skew a figure: the last computation sees every event once, in order.
Routing fields are read defensively (``.get``): the producers may add fields, and may omit some.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.search.reports.models import CLOSED

CASE_ATTRS = ("reference", "type", "priority", "channel", "team", "status", "created_at", "closed_at")
ROUTING_TYPES = (
    "case_queued",
    "case_assigned",
    "case_unassigned",
    "case_escalated",
    "sla_clock_started",
    "sla_clock_paused",
    "sla_clock_resumed",
    "sla_clock_stopped",
    "sla_warning",
    "sla_breached",
)


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any, limit: int = 128) -> str | None:
    return None if value is None or value == "" else str(value)[:limit]


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def to_row(event: dict[str, Any]) -> dict[str, Any] | None:
    """The ``rp_events`` row of one envelope; ``None`` for an event about no case."""
    case_id = event.get("case_id")
    data = event.get("data") or {}
    snap = data.get("case") if isinstance(data.get("case"), dict) else {}
    case_id = case_id or snap.get("id")
    if not case_id:
        return None
    producer = event.get("producer") or ("routing" if event["type"] in ROUTING_TYPES else "cases")
    row: dict[str, Any] = {
        "event_id": str(event["id"]),
        "case_id": str(case_id),
        "source": producer[:16],
        "type": event["type"],
        "occurred_at": parse_time(event.get("occurred_at")) or datetime.now(UTC),
        "case_version": event.get("case_version") if producer == "cases" else None,
        "stage": _text(snap.get("stage"), 64),
        "queue": _text(data.get("queue"), 64),
        "assignee": _text(data.get("assignee") or data.get("previous_assignee"), 128),
        "clock": _text(data.get("clock"), 64),
        "met": data.get("met") if isinstance(data.get("met"), bool) else None,
        "elapsed_seconds": _number(data.get("elapsed_seconds")),
        "target_seconds": _number(data.get("target_seconds")),
        "resolution": _text(data.get("resolution") or snap.get("resolution"), 64),
        "data": {k: snap.get(k) for k in CASE_ATTRS if k in snap},
    }
    if producer == "cases":
        task = data.get("task") if isinstance(data.get("task"), dict) else {}
        if task:
            row["data"]["task"] = _text(task.get("key") or task.get("title"), 100)
        if row["case_version"] is None:
            row["case_version"] = snap.get("version")
    return row


@dataclass
class Derived:
    case: dict[str, Any] | None
    visits: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # event_id, seq, activity, next_*


def _state(row: dict[str, Any]) -> str | None:
    if (row["data"] or {}).get("status") == "closed":
        return CLOSED
    return row["stage"]


def activity_of(row: dict[str, Any]) -> str | None:
    """The activity a cases event records, or ``None`` for one that is not a step of the process."""
    kind = row["type"]
    if kind == "case_opened":
        return "opened"
    if kind == "case_transitioned":
        return f"stage {row['stage']}"
    if kind == "task_completed":
        return f"task {(row['data'] or {}).get('task') or '?'}"
    if kind == "case_closed" or (kind == "case_merged" and _state(row) == CLOSED):
        return "closed"
    if kind == "case_reopened":
        return "reopened"
    return None


def _visits(ordered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    visits: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: dict[str, Any] | None = None
    for row in ordered:
        state = _state(row)
        if state is None or (current is not None and current["stage"] == state):
            continue
        at = row["occurred_at"]
        if current is not None:
            current["left_at"], current["next_stage"] = at, state
        current = {
            "seq": len(visits) + 1,
            "stage": state,
            "entered_at": at,
            "left_at": None,
            "next_stage": None,
            "prev_stage": current["stage"] if current is not None else None,
            "rework": state != CLOSED and state in seen,
        }
        seen.add(state)
        visits.append(current)
    return visits


def _steps(ordered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps = [
        {"event_id": r["event_id"], "activity": a, "at": r["occurred_at"]}
        for r in ordered
        if (a := activity_of(r)) is not None
    ]
    for i, step in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        step["seq"] = i + 1
        step["next_activity"] = nxt["activity"] if nxt else None
        step["next_at"] = nxt["at"] if nxt else None
    return steps


def derive(case_id: str, rows: list[dict[str, Any]]) -> Derived:
    """The case row, visits and steps of one case from all of its stored event rows."""
    ordered = sorted(
        (r for r in rows if r["source"] == "cases"),
        key=lambda r: (r["case_version"] or 0, r["occurred_at"], r["event_id"]),
    )
    if not ordered:
        return Derived(case=None)
    last = ordered[-1]
    attrs = last["data"] or {}
    opened = next((r for r in ordered if r["type"] == "case_opened"), None)
    opened_at = parse_time(attrs.get("created_at")) or (opened or ordered[0])["occurred_at"]
    visits = _visits(ordered)
    closed = attrs.get("status") == "closed"
    closed_at = None
    if closed:
        closed_at = parse_time(attrs.get("closed_at")) or next(
            (v["entered_at"] for v in reversed(visits) if v["stage"] == CLOSED), last["occurred_at"]
        )
    queue = assignee = None
    for r in sorted((r for r in rows if r["source"] == "routing"), key=lambda r: r["occurred_at"]):
        if r["type"] == "case_queued":
            queue = r["queue"] or queue
        elif r["type"] == "case_assigned":
            queue, assignee = r["queue"] or queue, r["assignee"]
        elif r["type"] == "case_unassigned":
            queue, assignee = r["queue"] or queue, None
    case = {
        "case_id": case_id,
        "version": int(last["case_version"] or 0),
        "reference": _text(attrs.get("reference"), 64),
        "type": _text(attrs.get("type"), 64),
        "priority": _text(attrs.get("priority"), 32),
        "channel": _text(attrs.get("channel"), 32),
        "team": _text(attrs.get("team"), 64),
        "status": "closed" if closed else "open",
        "stage": last["stage"],
        "resolution": last["resolution"] if closed else None,
        "opened_at": opened_at,
        "closed_at": closed_at,
        "reopened": sum(1 for r in ordered if r["type"] == "case_reopened"),
        "queue": queue,
        "assignee": assignee if not closed else None,
        "variant": " > ".join(v["stage"] for v in visits)[:2000],
    }
    return Derived(case=case, visits=visits, steps=_steps(ordered))
