"""What the SLA clocks answer: a case's clocks with their story, and the work at risk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from casekit.context import ROLE_SUPERVISOR, Principal, require_authenticated
from casekit.contracts.visibility import SEE_ALL, can_see
from casekit.errors import InvalidInput, NotFound
from services.routing.logic import sla_clock
from services.routing.logic.calendars import Calendar, describe_target
from services.routing.logic.common import priority_name
from services.routing.logic.sla_store import calendar, db_now
from services.routing.models import SlaCase, SlaClock, SlaHistory, WorkItem, WorkQueue

DEFAULT_HORIZON = 3600  # seconds: a running clock due within this is at risk too


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _status(clock: SlaClock, elapsed: timedelta) -> str:
    if clock.state == sla_clock.STOPPED:
        return "met" if clock.met else "missed"
    if clock.breached_at is not None or elapsed >= clock.target:
        return "breached"
    if clock.fired:
        return "warning"
    return "paused" if clock.state == sla_clock.PAUSED else "ok"


def clock_out(clock: SlaClock, cal: Calendar, now: datetime) -> dict[str, Any]:
    elapsed = sla_clock.elapsed_at(clock, cal, now)
    return {
        "name": clock.name,
        "cycle": clock.cycle,
        "state": clock.state,
        "status": _status(clock, elapsed),
        "calendar": clock.calendar,
        "target_seconds": sla_clock.seconds(clock.target),
        "target": describe_target(cal, clock.target),
        "elapsed_seconds": sla_clock.seconds(elapsed),
        "remaining_seconds": sla_clock.seconds(clock.target - elapsed),
        "started_at": _iso(clock.started_at),
        "due_at": _iso(clock.due_at),
        "breached_at": _iso(clock.breached_at),
        "stopped_at": _iso(clock.stopped_at),
        "met": clock.met,
        "warned_at_fractions": [f for f in clock.fired or [] if f < sla_clock.BREACH],
    }


def case_clocks(*, session: Session, principal: Principal, case_id: str) -> dict[str, Any]:
    """Every clock of the case (newest cycle last) and the story of all of them, in order."""
    require_authenticated(principal)
    case = session.get(SlaCase, case_id) if isinstance(case_id, str) and len(case_id) <= 64 else None
    if case is None or not can_see(principal, team=case.team, restricted=bool(case.restricted)):
        raise NotFound(f"case {case_id} has no SLA clocks")
    now = db_now(session)
    clocks = list(
        session.scalars(
            select(SlaClock).where(SlaClock.case_id == case_id).order_by(SlaClock.started_at, SlaClock.name)
        )
    )
    by_id = {c.id: c for c in clocks}
    cals = {name: calendar(session, name) for name in {c.calendar for c in clocks}}
    out = {c.id: {**clock_out(c, cals[c.calendar], now), "story": []} for c in clocks}
    story = []
    previous: dict[str, datetime] = {}
    rows = session.scalars(
        select(SlaHistory).where(SlaHistory.case_id == case_id).order_by(SlaHistory.at, SlaHistory.id)
    )
    for row in rows:
        clock = by_id.get(row.clock_id)
        if clock is None:
            continue
        text = sla_clock.story_line(row, clock, cals[clock.calendar], previous.get(clock.id))
        previous[clock.id] = row.at
        line = {"at": row.at.isoformat(), "clock": clock.name, "kind": row.kind, "text": text}
        out[clock.id]["story"].append(text)
        story.append(line)
    return {
        "case_id": case_id,
        "reference": case.reference,
        "paused_by": case.paused_by,
        "as_of": now.isoformat(),
        "clocks": [out[c.id] for c in clocks],
        "story": story,
    }


def _visible(principal: Principal) -> Any:
    if principal.has_role(*SEE_ALL):
        return true()
    team_ok = or_(SlaCase.team.is_(None), SlaCase.team.in_(list(principal.teams) or [""]))
    if principal.has_role(ROLE_SUPERVISOR):
        return team_ok
    return and_(team_ok, SlaCase.restricted.is_(False))


def at_risk(
    *,
    session: Session,
    principal: Principal,
    queue: str | None = None,
    within_seconds: int = DEFAULT_HORIZON,
    limit: int = 50,
) -> dict[str, Any]:
    """Running clocks that warned, breached, or fall due within ``within_seconds``, soonest first."""
    require_authenticated(principal)
    if not isinstance(within_seconds, int) or not 0 <= within_seconds <= 90 * 86400:
        raise InvalidInput.from_field("within_seconds", "must be 0..7776000")
    if queue is not None and session.get(WorkQueue, queue) is None:
        raise NotFound(f"queue {queue} not found")
    now = db_now(session)
    stmt = (
        select(SlaClock, SlaCase, WorkItem)
        .join(SlaCase, SlaCase.case_id == SlaClock.case_id)
        .outerjoin(WorkItem, WorkItem.case_id == SlaClock.case_id)
        .where(
            SlaClock.state == sla_clock.RUNNING,
            or_(
                SlaClock.due_at <= now + timedelta(seconds=within_seconds),
                func.jsonb_array_length(SlaClock.fired) > 0,
            ),
            _visible(principal),
        )
        .order_by(SlaClock.due_at, SlaClock.id)
        .limit(max(1, min(int(limit), 200)))
    )
    if queue is not None:
        stmt = stmt.where(WorkItem.queue == queue)
    items = []
    cals: dict[str, Calendar] = {}
    for clock, case, item in session.execute(stmt):
        cal = cals.setdefault(clock.calendar, calendar(session, clock.calendar))
        out = clock_out(clock, cal, now)
        items.append(
            {
                "case_id": clock.case_id,
                "reference": case.reference,
                "title": case.title,
                "queue": item.queue if item else None,
                "assignee": item.assigned_to if item else None,
                "priority": priority_name(item.priority) if item else case.priority,
                "clock": clock.name,
                "status": out["status"] if out["status"] != "ok" else "due_soon",
                "due_at": out["due_at"],
                "remaining_seconds": out["remaining_seconds"],
                "elapsed_seconds": out["elapsed_seconds"],
                "target_seconds": out["target_seconds"],
            }
        )
    return {"queue": queue, "as_of": now.isoformat(), "within_seconds": within_seconds, "items": items}
