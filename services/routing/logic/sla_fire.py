"""Firing SLA thresholds: the timer's claim, warnings and breaches, escalation actions.

``fire_due`` claims due clocks with ``FOR UPDATE SKIP LOCKED``, so replicas never fire the
same one, and fires everything that fell due while nobody was looking, once, at the instant
it fell due (``noticed_at`` says when it was seen). Each threshold's escalation actions run
in a savepoint: one that cannot be done is recorded as skipped, never half done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casekit.contracts import events as ev
from casekit.errors import CaseworkError
from casekit.outbox import EventWriter
from services.routing.logic import actions, sla_clock
from services.routing.logic.calendars import Calendar
from services.routing.logic.common import priority_name, supervisors_of
from services.routing.logic.sla_policy import priority_raised
from services.routing.logic.sla_store import calendar, db_now, sync_due
from services.routing.models import SlaCase, SlaClock, SlaHistory, WorkItem

LATE = timedelta(seconds=60)  # fired this long after it fell due: say when it was noticed
EVENT_OF = {
    "started": ev.SLA_CLOCK_STARTED,
    "paused": ev.SLA_CLOCK_PAUSED,
    "resumed": ev.SLA_CLOCK_RESUMED,
    "stopped": ev.SLA_CLOCK_STOPPED,
    "warned": ev.SLA_WARNING,
    "breached": ev.SLA_BREACHED,
}


@dataclass
class Run:
    """One transaction's work on one case (or on the timer's batch)."""

    session: Session
    events: EventWriter
    now: datetime
    case: SlaCase | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    clocks: list[SlaClock] = field(default_factory=list)  # the case's clocks not stopped
    calendars: dict[str, Calendar] = field(default_factory=dict)

    def cal(self, name: str) -> Calendar:
        if name not in self.calendars:
            self.calendars[name] = calendar(self.session, name)
        return self.calendars[name]

    def clamp(self, at: datetime | None, clock: SlaClock | None = None) -> datetime:
        at = min(at or self.now, self.now)
        return max(at, clock.changed_at) if clock is not None else at


# --- recording ---------------------------------------------------------------------------


def record(
    run: Run,
    clock: SlaClock,
    kind: str,
    at: datetime,
    reason: str | None,
    *,
    threshold: float | None = None,
    supervisor_ids: list[str] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one line of the clock's history and emit its event (if it has one)."""
    cal = run.cal(clock.calendar)
    elapsed = sla_clock.elapsed_at(clock, cal, at)
    base = {
        "elapsed_seconds": sla_clock.seconds(elapsed),
        "target_seconds": sla_clock.seconds(clock.target),
        "due_at": clock.due_at.isoformat() if clock.due_at else None,
        **(detail or {}),
    }
    if kind == "stopped":
        base["met"] = bool(clock.met)
    run.session.add(
        SlaHistory(
            clock_id=clock.id,
            case_id=clock.case_id,
            at=at,
            kind=kind,
            threshold=threshold,
            reason=reason,
            detail=base,
        )
    )
    event_type = EVENT_OF.get(kind)
    if event_type is None:
        return
    item = run.session.get(WorkItem, clock.case_id)
    case = run.case or run.session.get(SlaCase, clock.case_id)
    data = {
        "clock": clock.name,
        "queue": item.queue if item else None,
        "due_at": base["due_at"],
        "target_seconds": base["target_seconds"],
        "elapsed_seconds": base["elapsed_seconds"],
        "reason": reason,
        "supervisor_ids": supervisor_ids or [],
        "assignee": item.assigned_to if item else None,
        "at": at.isoformat(),
        "state": clock.state,
        "calendar": clock.calendar,
        "reference": case.reference if case else None,
        "title": case.title if case else None,
    }
    if kind == "stopped":
        data["met"] = base["met"]
    if threshold is not None:
        data["threshold"] = threshold
    run.events.emit(
        run.session, event_type, data, case_id=clock.case_id, case_version=case.case_version if case else None
    )


def fire_due_thresholds(run: Run, clock: SlaClock, upto: datetime) -> None:
    """Fire what fell due up to ``upto`` that the timer has not fired yet, at its own instant."""
    cal = run.cal(clock.calendar)
    for fraction, at in sla_clock.due_thresholds(clock, cal, upto):
        fire(run, clock, fraction, at, cal)


# --- the timer ---------------------------------------------------------------------------


def fire_due(*, session: Session, events: EventWriter, batch: int = 200) -> int:
    """Fire every warning and breach due now on clocks no one else holds; how many clocks."""
    run = Run(session, events, db_now(session))
    clocks = session.scalars(
        select(SlaClock)
        .where(SlaClock.next_fire_at <= run.now)
        .order_by(SlaClock.next_fire_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for clock in clocks:
        run.case = session.get(SlaCase, clock.case_id)
        fire_due_thresholds(run, clock, run.now)
        sla_clock.schedule(clock, run.cal(clock.calendar))
    for case_id in sorted({c.case_id for c in clocks}):
        sync_due(session, case_id)
    return len(clocks)


def sync_pending_due(*, session: Session, batch: int = 200) -> int:
    """Copy deadlines to work items that did not exist when their clocks changed (the clocks'
    handler and the queueing handler of one event run side by side); give up after an hour."""
    now = db_now(session)
    rows = session.scalars(
        select(SlaCase).where(SlaCase.due_pending).limit(batch).with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        if sync_due(session, row.case_id) or row.updated_at < now - timedelta(hours=1):
            row.due_pending = False
    return len(rows)


def fire(run: Run, clock: SlaClock, fraction: float, at: datetime, cal: Calendar) -> None:
    """Fire one threshold: record and emit it, and run the clock's escalation actions."""
    breach = fraction >= sla_clock.BREACH
    sla_clock.mark_fired(clock, fraction, at)
    if clock.state == sla_clock.RUNNING:
        sla_clock.schedule(clock, cal)
    configured = clock.spec.get("on_breach" if breach else "on_warning") or []
    why = f"{clock.name} {'breached' if breach else f'reached {round(fraction * 100)}%'}"
    done = [escalate(run, clock, action, why) for action in configured if action != "notify"]
    item = run.session.get(WorkItem, clock.case_id)
    queue = item.queue if item else None
    notified: list[str] = []
    if "notify" in configured:  # after a move, the new queue's supervisors are the ones to tell
        notified = supervisors_of(run.session, queue) if queue else []
        done.append({"action": "notify", "supervisor_ids": notified})
    detail = {"actions": done, "noticed_at": run.now.isoformat(), "late": run.now - at > LATE}
    kind = "breached" if breach else "warned"
    record(run, clock, kind, at, why, threshold=fraction, supervisor_ids=notified, detail=detail)
    for outcome in done:
        if outcome.get("skipped"):
            continue
        item = run.session.get(WorkItem, clock.case_id)
        queue = item.queue if item else None
        run.events.emit(
            run.session,
            ev.CASE_ESCALATED,
            {
                "clock": clock.name,
                "action": outcome["action"],
                "queue": queue,
                "priority": priority_name(item.priority) if item else None,
                "supervisor_ids": supervisors_of(run.session, queue) if queue else [],
                "threshold": fraction,
                "reason": why,
            },
            case_id=clock.case_id,
            case_version=run.case.case_version if run.case else None,
        )


def escalate(run: Run, clock: SlaClock, action: Any, why: str) -> dict[str, Any]:
    """Run one escalation action in a savepoint; what happened (``skipped`` when nothing did)."""
    name, arg = (action, None) if isinstance(action, str) else next(iter(action.items()))
    item = run.session.get(WorkItem, clock.case_id)
    if item is None:
        return {"action": name, "skipped": "the case is in no queue"}
    for attempt in (1, 2):
        try:
            with run.session.begin_nested():
                done, out = _act(run, clock, name, arg, item, why)
            break
        except IntegrityError:  # another replica created the target queue at the same moment
            if attempt == 2:
                raise
        except CaseworkError as exc:
            return {"action": name, "skipped": exc.message}
    if not done:
        out["skipped"] = "nothing to change"
    return out


def _act(
    run: Run, clock: SlaClock, name: str, arg: Any, item: WorkItem, why: str
) -> tuple[bool, dict[str, Any]]:
    if name == "raise_priority":
        to = priority_raised(priority_name(item.priority), arg)
        done = actions.raise_priority(
            session=run.session, events=run.events, case_id=clock.case_id, priority=to, reason=why
        )
        return done, {"action": name, "priority": to}
    done = actions.move_to_queue(
        session=run.session, events=run.events, case_id=clock.case_id, queue=arg, reason=why, actor=None
    )
    return done, {"action": name, "queue": arg}
