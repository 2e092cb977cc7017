"""Queues and their members, and putting cases in queues by the rules (and keeping them right)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, require_authenticated, require_roles
from casekit.contracts.visibility import can_see
from casekit.errors import InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.routing.logic.common import (
    effective_priority,
    emit_queued,
    emit_unassigned,
    ensure_queue,
    iso,
    now,
    priority_name,
    priority_rank,
    record_assignment,
    record_decision,
    supervisors_of,
)
from services.routing.logic.rules import case_facts, fact_value, route, watched_fields
from services.routing.logic.ruleset import current_rules
from services.routing.models import QueueMember, RoutingDecision, WorkItem, WorkQueue

__all__ = ["supervisors_of"]

DEFAULT_QUEUE = "default"
MEMBER_ROLES = ("agent", "supervisor")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"

require_reader = require_authenticated


def _parties(case: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("role", "kind", "name", "emails", "phones", "address")
    return [{k: p.get(k) for k in keep} for p in case.get("parties") or []]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def snapshot(case: dict[str, Any]) -> dict[str, Any]:
    """The routing-relevant part of a case (as cases events carry it in ``data.case``)."""
    return {
        "reference": case.get("reference") or "",
        "title": (case.get("title") or "")[:200],
        "case_type": case.get("type"),
        "stage": case.get("stage"),
        "team": case.get("team"),
        "channel": case.get("channel"),
        "restricted": bool(case.get("restricted")),
        "case_status": case.get("status") or "open",
        "case_data": case.get("data") or {},
        "parties": _parties(case),
        "base_priority": priority_rank(case.get("priority") or "normal"),
    }


def _apply_route(
    session: Session, item: WorkItem, *, trigger: str, actor: str | None = None, record: bool = True
) -> bool:
    """Route ``item`` by the rules in force; record the decision. True when its queue changed."""
    version, doc = current_rules(session)
    rule, explain = route(doc, case_facts(item))
    previous = item.queue
    target = explain["queue"]
    ensure_queue(session, target)
    item.queue = target
    item.rule = rule.id if rule else None
    item.rule_set_version = version
    item.required_skills = sorted(
        set(rule.then.skills) | ({f"lang:{rule.then.language}"} if rule.then.language else set())
        if rule
        else set()
    )
    item.priority_boost = rule.then.priority_boost if rule else 0
    item.priority = effective_priority(item)
    decision = {
        "trigger": trigger,
        "previous_queue": previous,
        "rule": item.rule,
        "rule_set_version": version,
        "actor": actor,
        "reason": explain["summary"],
        "explain": explain,
    }
    if record:
        record_decision(session, item, **decision)
    else:
        item._pending_decision = decision  # recorded by the caller once the item exists
    return previous != target


def enqueue_case(*, session: Session, case: dict[str, Any], case_version: int, events: EventWriter) -> bool:
    """Put a case in the queue its rules choose; False when it is already in one."""
    snap = snapshot(case)
    item = WorkItem(case_id=case["id"], queue=DEFAULT_QUEUE, case_version=case_version, **snap)
    item.escalated_priority = 0
    item.priority_boost = 0
    item.case_created_at = _when(case.get("created_at")) or now()
    item.queued_at = now()
    item.status = "closed" if snap["case_status"] == "closed" else "queued"
    _apply_route(session, item, trigger="case_opened", record=False)
    values = {c.key: getattr(item, c.key) for c in WorkItem.__table__.columns if c.key not in ("rank",)}
    values = {k: v for k, v in values.items() if v is not None}
    stmt = pg_insert(WorkItem).values(**values).on_conflict_do_nothing().returning(WorkItem.case_id)
    if session.execute(stmt).first() is None:
        return False  # already there (a later event of the case got here first)
    record_decision(session, item, **item._pending_decision)
    session.flush()
    if item.status == "queued":
        emit_queued(session, events, item, previous_queue=None, rule=item.rule)
    return True


def sync_case(
    *, session: Session, events: EventWriter, case: dict[str, Any], case_version: int, trigger: str
) -> str:
    """Apply a newer case snapshot; close, reopen or re-route as the change requires.

    Returns what happened: ``created``, ``stale``, ``closed``, ``reopened``, ``rerouted``, ``moved``
    or ``updated``. A case is re-evaluated only when a field some rule looks at changed.
    """
    item = session.scalars(select(WorkItem).where(WorkItem.case_id == case["id"]).with_for_update()).first()
    if item is None:
        enqueue_case(session=session, case=case, case_version=case_version, events=events)
        return "created"
    if case_version <= item.case_version:
        return "stale"
    before = case_facts(item)
    for key, value in snapshot(case).items():
        setattr(item, key, value)
    item.case_version = case_version
    item.priority = effective_priority(item)
    if item.case_status == "closed":
        if item.status == "closed":
            return "updated"
        _close(session, events, item)
        return "closed"
    if item.status == "closed":
        item.status = "queued"
        item.queued_at = now()
        _apply_route(session, item, trigger=trigger)
        session.flush()
        emit_queued(session, events, item, previous_queue=None, rule=item.rule)
        return "reopened"
    _, doc = current_rules(session)
    after = case_facts(item)
    if not any(fact_value(before, f) != fact_value(after, f) for f in watched_fields(doc)):
        return "updated"
    previous = item.queue
    if _apply_route(session, item, trigger=trigger):
        item.queued_at = now()
        session.flush()
        emit_queued(session, events, item, previous_queue=previous, rule=item.rule)
        return "moved"
    return "rerouted"


def _close(session: Session, events: EventWriter, item: WorkItem) -> None:
    """A closed case leaves its queue; whoever had it is told."""
    previous = item.assigned_to
    item.status = "closed"
    item.assigned_to = None
    item.lease_expires_at = None
    item.assigned_via = None
    if previous:
        record_assignment(session, item, action="closed", previous_assignee=previous, by=None)
        emit_unassigned(
            session,
            events,
            case_id=item.case_id,
            case_version=item.case_version,
            queue=item.queue,
            previous_assignee=previous,
            reason="closed",
            by=None,
        )


def visible(item: WorkItem, principal: Principal) -> bool:
    return can_see(principal, team=item.team, restricted=bool(item.restricted))


def get_work_item(*, session: Session, principal: Principal, case_id: str) -> WorkItem:
    require_reader(principal)
    item = session.get(WorkItem, case_id)
    if item is None or not visible(item, principal):
        raise NotFound(f"case {case_id} is in no queue")
    return item


def require_queue(session: Session, queue: str) -> WorkQueue:
    found = session.get(WorkQueue, queue)
    if found is None:
        raise NotFound(f"queue {queue} not found")
    return found


def add_member(*, session: Session, principal: Principal, queue: str, user_id: str, role: str) -> None:
    require_roles(principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="manage queue members")
    if role not in MEMBER_ROLES:
        raise InvalidInput.from_field("role", f"must be one of {', '.join(MEMBER_ROLES)}")
    require_queue(session, queue)
    session.execute(
        pg_insert(QueueMember)
        .values(queue=queue, user_id=user_id, role=role)
        .on_conflict_do_update(index_elements=["queue", "user_id"], set_={"role": role})
    )


def remove_member(*, session: Session, principal: Principal, queue: str, user_id: str) -> bool:
    require_roles(principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="manage queue members")
    require_queue(session, queue)
    member = session.get(QueueMember, (queue, user_id))
    if member is None:
        return False
    session.delete(member)
    return True


def put_queue(*, session: Session, principal: Principal, queue: str, title: str) -> dict[str, Any]:
    """Create a queue or change its title (supervisors and admins)."""
    require_roles(principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="manage queues")
    if not re.match(NAME_PATTERN, queue):
        raise InvalidInput.from_field("queue", "lower-case letters, digits, _ and -, up to 64")
    session.execute(
        pg_insert(WorkQueue)
        .values(name=queue, title=title)
        .on_conflict_do_update(index_elements=["name"], set_={"title": title})
    )
    return {"name": queue, "title": title}


def list_queues(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Every queue with its counts of queued and assigned work and its members."""
    require_reader(principal)
    counts: dict[tuple[str, str], int] = {
        (q, s): n
        for q, s, n in session.execute(
            select(WorkItem.queue, WorkItem.status, func.count())
            .where(WorkItem.status.in_(("queued", "assigned")))
            .group_by(WorkItem.queue, WorkItem.status)
        )
    }
    members: dict[str, list[dict[str, str]]] = {}
    for m in session.scalars(select(QueueMember).order_by(QueueMember.queue, QueueMember.user_id)):
        members.setdefault(m.queue, []).append({"user_id": m.user_id, "role": m.role})
    return [
        {
            "name": q.name,
            "title": q.title,
            "queued": counts.get((q.name, "queued"), 0),
            "assigned": counts.get((q.name, "assigned"), 0),
            "members": members.get(q.name, []),
        }
        for q in session.scalars(select(WorkQueue).order_by(WorkQueue.name))
    ]


def work_item_out(item: WorkItem) -> dict[str, Any]:
    return {
        "case_id": item.case_id,
        "queue": item.queue,
        "reference": item.reference,
        "title": item.title,
        "priority": item.priority,
        "priority_name": priority_name(item.priority),
        "status": item.status,
        "assigned_to": item.assigned_to,
        "assigned_via": item.assigned_via,
        "assigned_at": iso(item.assigned_at),
        "lease_expires_at": iso(item.lease_expires_at),
        "case_version": item.case_version,
        "queued_at": iso(item.queued_at or item.created_at),
        "case_type": item.case_type,
        "stage": item.stage,
        "team": item.team,
        "channel": item.channel,
        "required_skills": list(item.required_skills or []),
        "rule": item.rule,
        "due_at": iso(item.due_at),
    }


REAPPLY_BATCH = 500
REAPPLY_MAX = 5000  # items examined per call; ``next_after`` continues


def reapply_rules(
    *,
    session: Session,
    events: EventWriter,
    principal: Principal,
    dry_run: bool = False,
    after: str | None = None,
) -> dict[str, Any]:
    """Route the waiting cases again by the rules in force (supervisors, admins).

    Only cases nobody holds are touched, and only those routed by an older rule set: a case a
    person or an SLA action moved by hand keeps its queue. ``dry_run`` lists what would move and
    changes nothing. At most ``REAPPLY_MAX`` cases are examined per call, in case id order;
    ``next_after`` says where the next call starts.
    """
    require_roles(principal, ROLE_SUPERVISOR, ROLE_ADMIN, action="route waiting cases again")
    version, doc = current_rules(session)
    last_trigger = (
        select(RoutingDecision.trigger)
        .where(RoutingDecision.case_id == WorkItem.case_id, RoutingDecision.trigger != "raise_priority")
        .order_by(RoutingDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    out: dict[str, Any] = {"rule_set_version": version, "dry_run": dry_run, "examined": 0}
    moved: list[dict[str, Any]] = []
    counts = {"unchanged": 0, "kept_manual": 0}
    cursor = after or ""
    while out["examined"] < REAPPLY_MAX:
        query = (
            select(WorkItem, last_trigger)
            .where(
                WorkItem.status == "queued",
                WorkItem.assigned_to.is_(None),
                WorkItem.case_id > cursor,
                func.coalesce(WorkItem.rule_set_version, 0) < (version or 0),
            )
            .order_by(WorkItem.case_id)
            .limit(min(REAPPLY_BATCH, REAPPLY_MAX - out["examined"]))
        )
        rows = session.execute(
            query if dry_run else query.with_for_update(of=WorkItem, skip_locked=True)
        ).all()
        if not rows:
            cursor = ""
            break
        for item, trigger in rows:
            cursor = item.case_id
            out["examined"] += 1
            if not visible(item, principal):
                continue
            if trigger == "move_queue":
                counts["kept_manual"] += 1
                continue
            rule, explain = route(doc, case_facts(item))
            if explain["queue"] == item.queue:
                counts["unchanged"] += 1
                if not dry_run:  # skills and priority boost may still change; not a placement
                    _apply_route(session, item, trigger="rules_reapplied", record=False)
                continue
            moved.append(
                {
                    "case_id": item.case_id,
                    "reference": item.reference,
                    "from": item.queue,
                    "to": explain["queue"],
                    "rule": rule.id if rule else None,
                }
            )
            if not dry_run:
                previous = item.queue
                _apply_route(session, item, trigger="rules_reapplied", actor=principal.user_id)
                item.queued_at = now()
                session.flush()
                emit_queued(session, events, item, previous_queue=previous, rule=item.rule)
    return {**out, **counts, "moved": moved, "next_after": cursor or None}
