"""One clock's arithmetic and state changes, on ``SlaClock`` rows, without a database.

A clock holds ``elapsed``, the business time it had run up to ``segment_started_at`` (the
start of the current running stretch; None while paused or stopped). Everything else follows
from the calendar: how much has run at any instant, when each threshold falls due, when the
clock breaches. ``schedule`` keeps ``due_at`` and ``next_fire_at`` (what the timer claims)
in step after every change. Thresholds are fractions of the target; 1.0 is the breach.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from services.routing.logic.calendars import Calendar, clock_span, describe_target
from services.routing.models import SlaClock, SlaHistory

BREACH = 1.0
RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"


def seconds(amount: timedelta) -> float | int:
    """Seconds as an int when whole (the usual case), else a float to the microsecond."""
    whole, rest = divmod(amount, timedelta(seconds=1))
    return int(whole) if not rest else amount.total_seconds()


def elapsed_at(clock: SlaClock, cal: Calendar, at: datetime) -> timedelta:
    if clock.state == RUNNING and clock.segment_started_at is not None and at > clock.segment_started_at:
        return clock.elapsed + cal.business_time(clock.segment_started_at, at)
    return clock.elapsed


def instant_of(clock: SlaClock, cal: Calendar, fraction: float) -> datetime | None:
    """When a running clock reaches ``fraction`` of its target (its segment start if already past)."""
    if clock.state != RUNNING or clock.segment_started_at is None:
        return None
    remaining = clock.target * fraction - clock.elapsed
    if remaining <= timedelta(0):
        return clock.segment_started_at
    return cal.add(clock.segment_started_at, remaining)


def pending(clock: SlaClock) -> list[float]:
    fired = {float(f) for f in clock.fired or []}
    return [f for f in sorted(float(t) for t in clock.thresholds) if f not in fired]


def schedule(clock: SlaClock, cal: Calendar) -> None:
    """Recompute ``due_at`` and ``next_fire_at`` from the clock's state."""
    if clock.state != RUNNING:
        clock.due_at, clock.next_fire_at = None, None
        return
    clock.due_at = instant_of(clock, cal, BREACH)
    upcoming = pending(clock)
    clock.next_fire_at = instant_of(clock, cal, upcoming[0]) if upcoming else None


def due_thresholds(clock: SlaClock, cal: Calendar, now: datetime) -> list[tuple[float, datetime]]:
    """Unfired thresholds that fell due at or before ``now``, earliest first, with their instants."""
    out = []
    for fraction in pending(clock):
        at = instant_of(clock, cal, fraction)
        if at is None or at > now:
            break
        out.append((fraction, at))
    return out


def new_clock(
    *,
    case_id: str,
    name: str,
    cycle: int,
    calendar: str,
    target: timedelta,
    spec: dict[str, Any],
    at: datetime,
) -> SlaClock:
    return SlaClock(
        id=str(uuid.uuid4()),
        case_id=case_id,
        name=name,
        cycle=cycle,
        calendar=calendar,
        target=target,
        state=RUNNING,
        elapsed=timedelta(0),
        started_at=at,
        segment_started_at=at,
        changed_at=at,
        thresholds=[*spec["warn_at"], BREACH],
        fired=[],
        spec=spec,
    )


def pause(clock: SlaClock, cal: Calendar, at: datetime) -> bool:
    if clock.state != RUNNING:
        return False
    clock.elapsed = elapsed_at(clock, cal, at)
    clock.state, clock.segment_started_at, clock.changed_at = PAUSED, None, at
    schedule(clock, cal)
    return True


def resume(clock: SlaClock, cal: Calendar, at: datetime) -> bool:
    if clock.state != PAUSED:
        return False
    clock.state, clock.segment_started_at, clock.changed_at = RUNNING, at, at
    schedule(clock, cal)
    return True


def stop(clock: SlaClock, cal: Calendar, at: datetime) -> bool:
    if clock.state == STOPPED:
        return False
    clock.elapsed = elapsed_at(clock, cal, at)
    clock.state, clock.segment_started_at, clock.changed_at = STOPPED, None, at
    clock.stopped_at = at
    clock.met = clock.breached_at is None and clock.elapsed <= clock.target
    schedule(clock, cal)
    return True


def retarget(clock: SlaClock, cal: Calendar, target: timedelta, at: datetime) -> bool:
    if clock.state == STOPPED or target == clock.target:
        return False
    if clock.state == RUNNING:  # checkpoint, so the new target applies from here on
        clock.elapsed, clock.segment_started_at = elapsed_at(clock, cal, at), at
    clock.target, clock.changed_at = target, at
    schedule(clock, cal)
    return True


def recalculate(clock: SlaClock, old: Calendar, new: Calendar, at: datetime) -> None:
    """The clock's calendar was edited at ``at``: what ran so far stands, the rest uses ``new``."""
    if clock.state == RUNNING and clock.segment_started_at is not None:
        clock.elapsed = elapsed_at(clock, old, at)
        clock.segment_started_at = max(at, clock.segment_started_at)
    schedule(clock, new)


def mark_fired(clock: SlaClock, fraction: float, at: datetime) -> None:
    clock.fired = [*(clock.fired or []), fraction]
    if fraction >= BREACH and clock.breached_at is None:
        clock.breached_at = at


# --- the story ---------------------------------------------------------------------------


def _when(at: datetime, cal: Calendar, previous: datetime | None) -> str:
    local = at.astimezone(cal.zone)
    if previous is not None and previous.astimezone(cal.zone).date() == local.date():
        return local.strftime("%H:%M")
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def story_line(row: SlaHistory, clock: SlaClock, cal: Calendar, previous: datetime | None) -> str:
    """One sentence of a clock's history, times on the clock's calendar."""
    d = row.detail or {}
    when = _when(row.at, cal, previous)
    used = timedelta(seconds=d.get("elapsed_seconds", 0))
    due = datetime.fromisoformat(d["due_at"]) if d.get("due_at") else None
    due_text = f"due {_when(due, cal, row.at)}" if due else ""
    target = timedelta(seconds=d.get("target_seconds", seconds(clock.target)))
    kind = row.kind
    if kind == "started":
        text = f"started {when} ({clock.name}, target {describe_target(cal, target)}, calendar {cal.name}"
        text += f", {due_text})" if due_text else ")"
        if row.reason:
            text += f" because {row.reason}"
        return text
    if kind == "paused":
        return f"paused {when} because {row.reason} ({clock_span(used)} used)"
    if kind == "resumed":
        return f"resumed {when} because {row.reason}" + (f", {due_text}" if due_text else "")
    if kind == "warned":
        late = (
            f", noticed {_when(datetime.fromisoformat(d['noticed_at']), cal, row.at)}"
            if d.get("late")
            else ""
        )
        share = round((row.threshold or 0) * 100)
        text = f"warned {when} at {share}% ({clock_span(used)} used, {due_text}{late})"
        return text + _actions_text(d)
    if kind == "breached":
        late = (
            f", noticed {_when(datetime.fromisoformat(d['noticed_at']), cal, row.at)}"
            if d.get("late")
            else ""
        )
        return f"breached {when} (target {describe_target(cal, target)}{late})" + _actions_text(d)
    if kind == "stopped":
        verdict = "met" if d.get("met") else "missed"
        return f"stopped {when} because {row.reason}: {verdict} ({clock_span(used)} of {clock_span(target)})"
    if kind == "retargeted":
        return f"target changed {when} to {describe_target(cal, target)} because {row.reason}" + (
            f", {due_text}" if due_text else ""
        )
    if kind == "recalculated":
        return f"recalculated {when} because {row.reason}" + (f", {due_text}" if due_text else "")
    return f"{kind} {when}" + (f" because {row.reason}" if row.reason else "")


def _actions_text(detail: dict[str, Any]) -> str:
    parts = []
    for action in detail.get("actions") or []:
        kind = action.get("action")
        if kind == "notify":
            who = ", ".join(action.get("supervisor_ids") or []) or "nobody (the queue has no supervisor)"
            parts.append(f"notified {who}")
        elif kind == "raise_priority":
            parts.append(f"priority raised to {action.get('priority')}")
        elif kind == "move_queue":
            parts.append(f"moved to queue {action.get('queue')}")
        if action.get("skipped"):
            parts[-1] = f"{kind} skipped ({action['skipped']})"
    return ("; " + "; ".join(parts)) if parts else ""
