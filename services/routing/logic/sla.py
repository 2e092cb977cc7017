"""SLA clocks driven by events: started, paused, resumed, retargeted and stopped, each change
recorded, told and emitted (the timer's side is ``sla_fire``).

Cases events carry the case after the change (``data.case``); comparing it with what
``sla_cases`` last saw tells what happened: opened, stage changed, priority changed, paused,
resumed, closed, reopened. A staff note or a sent message is an agent response; an intake
item matched to an existing case or a received message is a customer reply. Each of those
starts and stops the clocks the case type's policy names (``sla_policy``). A handler locks
the case's row and its clocks; the timer skips locked clocks, so the two never fire one twice,
and a change first fires whatever fell due before it (at its own instant).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from casekit.contracts import events as ev
from casekit.outbox import EventWriter
from services.routing.logic import sla_clock
from services.routing.logic.sla_fire import (  # noqa: F401 - fire_due, sync_pending_due: the timer's
    Run,
    fire_due,
    fire_due_thresholds,
    record,
    sync_pending_due,
)
from services.routing.logic.sla_policy import STAGE_CLOCK, clock_spec, pause_reason, target_for
from services.routing.logic.sla_store import db_now, policy_for, sync_due
from services.routing.models import SlaCase, SlaClock

STAFF = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
CUSTOMER_REPLY, AGENT_RESPONSE = "customer_reply", "agent_response"
START_REASONS = {
    "opened": "the case was opened",
    "reopened": "the case was reopened",
    CUSTOMER_REPLY: "the customer replied",
    AGENT_RESPONSE: "an agent responded",
}


def _reason(word: str) -> str:
    return START_REASONS.get(word) or (f"stage became {word[6:]}" if word.startswith("stage:") else word)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# --- starting, pausing, stopping ---------------------------------------------------------


def _case_view(row: SlaCase, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    return snapshot or {"priority": row.priority, "stage": row.stage, "status": row.status}


def start_clock(
    run: Run, name: str, spec: dict[str, Any], target: timedelta, at: datetime, reason: str
) -> None:
    assert run.case is not None
    cycle = (
        run.session.scalar(
            select(func.max(SlaClock.cycle)).where(
                SlaClock.case_id == run.case.case_id, SlaClock.name == name
            )
        )
        or 0
    ) + 1
    clock = sla_clock.new_clock(
        case_id=run.case.case_id,
        name=name,
        cycle=cycle,
        calendar=spec["calendar"],
        target=target,
        spec=spec,
        at=at,
    )
    sla_clock.schedule(clock, run.cal(clock.calendar))
    run.session.add(clock)
    run.clocks.append(clock)
    record(run, clock, "started", at, reason)
    if run.case.paused_by and spec["pauses"]:
        sla_clock.pause(clock, run.cal(clock.calendar), at)
        record(run, clock, "paused", at, run.case.paused_by)


def stop_clock(run: Run, clock: SlaClock, at: datetime, reason: str) -> None:
    at = run.clamp(at, clock)
    fire_due_thresholds(run, clock, at)  # what fell due before it stopped still counts
    if sla_clock.stop(clock, run.cal(clock.calendar), at):
        record(run, clock, "stopped", at, reason)


def trigger(
    run: Run, word: str, at: datetime, snapshot: dict[str, Any] | None, reason: str | None = None
) -> None:
    """Stop the clocks that stop on ``word``, then start those that start on it."""
    assert run.case is not None
    why = reason or _reason(word)
    for clock in list(run.clocks):
        if clock.state != sla_clock.STOPPED and word in clock.spec.get("stop_on", []):
            stop_clock(run, clock, at, why)
    live = {c.name for c in run.clocks if c.state != sla_clock.STOPPED}
    for name in run.policy.get("clocks", {}):
        if name == STAGE_CLOCK or name in live:
            continue
        spec = clock_spec(run.policy, name)
        if word in spec["start_on"]:
            target = target_for(spec, _case_view(run.case, snapshot))
            if target is not None:
                start_clock(run, name, spec, target, run.clamp(at), why)


def start_stage_clock(run: Run, snapshot: dict[str, Any], at: datetime) -> None:
    if STAGE_CLOCK not in run.policy.get("clocks", {}):
        return
    spec = clock_spec(run.policy, STAGE_CLOCK)
    target = target_for(spec, snapshot, snapshot.get("stage"))
    if target is not None:
        why = f"stage became {snapshot['stage']}"
        start_clock(run, f"{STAGE_CLOCK}:{snapshot['stage']}", spec, target, run.clamp(at), why)


def set_paused(run: Run, reason: str | None, at: datetime, resume_reason: str) -> None:
    assert run.case is not None
    was, run.case.paused_by = run.case.paused_by, reason
    if bool(was) == bool(reason):
        return
    for clock in run.clocks:
        if not clock.spec.get("pauses", True):
            continue
        cal, when = run.cal(clock.calendar), run.clamp(at, clock)
        if reason:
            fire_due_thresholds(run, clock, when)
            if sla_clock.pause(clock, cal, when):
                record(run, clock, "paused", when, reason)
        elif sla_clock.resume(clock, cal, when):
            record(run, clock, "resumed", when, resume_reason)


def retarget_all(run: Run, snapshot: dict[str, Any], at: datetime) -> None:
    for clock in run.clocks:
        if clock.state == sla_clock.STOPPED:
            continue
        stage = clock.name.split(":", 1)[1] if clock.name.startswith(f"{STAGE_CLOCK}:") else None
        target = target_for(clock.spec, snapshot, stage)
        when = run.clamp(at, clock)
        if target is not None and target != clock.target:
            fire_due_thresholds(run, clock, when)
            sla_clock.retarget(clock, run.cal(clock.calendar), target, when)
            record(run, clock, "retargeted", when, f"priority became {snapshot.get('priority')}")


# --- events ------------------------------------------------------------------------------


def _lock_case(run: Run, case_id: str) -> None:
    run.case = run.session.scalars(
        select(SlaCase)
        .where(SlaCase.case_id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if run.case is not None:
        run.policy = policy_for(run.session, run.case.case_type)
        run.clocks = list(
            run.session.scalars(
                select(SlaClock)
                .where(SlaClock.case_id == case_id, SlaClock.state != sla_clock.STOPPED)
                .order_by(SlaClock.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )


def _is_staff(event: dict[str, Any]) -> bool:
    roles = (event.get("actor") or {}).get("roles") or []
    return any(r in STAFF for r in roles)


def reply_word(event: dict[str, Any]) -> str | None:
    """``agent_response``, ``customer_reply`` or None for a cases or notifications event."""
    kind, data = event["type"], event.get("data") or {}
    if kind == ev.NOTE_ADDED:
        return AGENT_RESPONSE if _is_staff(event) else None
    if kind == ev.INTAKE_RECEIVED:
        return CUSTOMER_REPLY if (data.get("item") or {}).get("matched_by") else None
    if kind == ev.MESSAGE_RECEIVED:
        return CUSTOMER_REPLY
    if kind == ev.MESSAGE_SENT:
        sent_by = str((data.get("message") or {}).get("sent_by") or data.get("sent_by") or "")
        if sent_by:
            return None if sent_by.startswith("system") else AGENT_RESPONSE
        return AGENT_RESPONSE if _is_staff(event) else None
    return None


def on_case_event(*, session: Session, events: EventWriter, event: dict[str, Any]) -> None:
    """Apply one cases event (any type carrying ``data.case``) to the case's clocks."""
    snap = (event.get("data") or {}).get("case")
    if not isinstance(snap, dict) or not snap.get("id"):
        return
    run = Run(session, events, db_now(session))
    version = int(event.get("case_version") or snap.get("version") or 0)
    inserted = session.execute(
        pg_insert(SlaCase)
        .values(
            case_id=snap["id"],
            case_type=str(snap.get("type") or "")[:64],
            case_version=version,
            reference=str(snap.get("reference") or "")[:32],
            title=str(snap.get("title") or "")[:200],
            priority=str(snap.get("priority") or "normal"),
            stage=str(snap.get("stage") or "")[:64],
            status=str(snap.get("status") or "open"),
            team=snap.get("team"),
            restricted=bool(snap.get("restricted")),
        )
        .on_conflict_do_nothing()
        .returning(SlaCase.case_id)
    ).first()
    _lock_case(run, snap["id"])
    row = run.case
    assert row is not None
    changed_at = _time(snap.get("updated_at")) or _time(event.get("occurred_at"))
    if inserted:
        if row.status == "open":
            row.paused_by = pause_reason(run.policy, snap)
            trigger(run, "opened", _time(snap.get("created_at")) or changed_at, snap)
            start_stage_clock(run, snap, _time(snap.get("stage_entered_at")) or changed_at)
    elif version > row.case_version:
        apply_changes(run, snap, version, changed_at)
    word = reply_word(event)
    if word and row.status == "open":
        trigger(run, word, _time(event.get("occurred_at")), snap)
    row.due_pending = not sync_due(session, row.case_id)


def apply_changes(run: Run, snap: dict[str, Any], version: int, at: datetime | None) -> None:
    row = run.case
    assert row is not None
    before = (row.status, row.stage, row.priority)
    row.case_version, row.title, row.team = (
        version,
        str(snap.get("title") or row.title)[:200],
        snap.get("team"),
    )
    row.restricted = bool(snap.get("restricted"))
    row.status = snap.get("status", row.status)
    row.stage = snap.get("stage", row.stage)
    row.priority = snap.get("priority", row.priority)
    stage_at = _time(snap.get("stage_entered_at")) or at
    if before[0] == "open" and row.status != "open":
        why = f"the case was closed ({snap.get('resolution') or 'no resolution'})"
        for clock in list(run.clocks):
            stop_clock(run, clock, _time(snap.get("closed_at")) or at, why)
        row.paused_by = None
        return
    if before[0] != "open" and row.status == "open":
        row.paused_by = pause_reason(run.policy, snap)
        trigger(run, "reopened", at, snap)
        start_stage_clock(run, snap, stage_at)
        return
    if row.status != "open":
        return
    if row.stage != before[1]:
        for clock in list(run.clocks):
            if clock.name == f"{STAGE_CLOCK}:{before[1]}":
                stop_clock(run, clock, stage_at, f"stage became {row.stage}")
        trigger(run, f"stage:{row.stage}", stage_at, snap)
    was = row.paused_by
    now_paused = pause_reason(run.policy, snap)
    resume_why = (
        f"stage became {row.stage}"
        if row.stage != before[1]
        else f"{(was or '').split(' became ')[0]} changed"
    )
    set_paused(run, now_paused, stage_at if row.stage != before[1] else at, resume_why)
    if row.stage != before[1]:
        start_stage_clock(run, snap, stage_at)
    if row.priority != before[2]:
        retarget_all(run, snap, at)


def on_message_event(*, session: Session, events: EventWriter, event: dict[str, Any]) -> None:
    """A notifications event about a message on a case (no snapshot): a reply or a response."""
    case_id = event.get("case_id") or (event.get("data") or {}).get("case_id")
    word = reply_word(event)
    if not case_id or not word:
        return
    run = Run(session, events, db_now(session))
    _lock_case(run, str(case_id))
    if run.case is None or run.case.status != "open":
        return
    trigger(run, word, _time(event.get("occurred_at")), None)
    sync_due(session, run.case.case_id)
