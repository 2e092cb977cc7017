"""Claim next, leases, release, assign, reassign and bulk reallocation.

Claiming is one statement: ``UPDATE work_items ... WHERE case_id = (SELECT ... FOR UPDATE SKIP
LOCKED LIMIT 1) RETURNING ...``; concurrent claimers skip each other's rows instead of waiting, so
no item is handed out twice. A claim carries a lease; ``expire_leases`` (a timer on every replica,
``SKIP LOCKED`` again) puts items whose lease ran out back in their queue.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR, Principal, require_roles
from casekit.contracts.visibility import SEE_ALL
from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from casekit.outbox import EventWriter
from services.routing.logic.actions import move_to_queue
from services.routing.logic.agents import effective_skills, is_manager, load_of
from services.routing.logic.common import emit_assigned, emit_unassigned, now, record_assignment
from services.routing.logic.queues import visible
from services.routing.models import Agent, Assignment, QueueMember, WorkItem

LEASE_SECONDS = int(os.environ.get("ROUTING_LEASE_SECONDS", "900"))
MAX_LEASE_SECONDS = int(os.environ.get("ROUTING_MAX_LEASE_SECONDS", "28800"))
BULK_LIMIT = 1000
WORKERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)


def visibility_clause(principal: Principal) -> ColumnElement[bool]:
    """``can_see`` as SQL over the work item's copy of the case's team and restriction."""
    if principal.has_role(*SEE_ALL):
        return true()
    team_ok = or_(WorkItem.team.is_(None), WorkItem.team.in_(principal.teams) if principal.teams else false())
    if principal.has_role(ROLE_SUPERVISOR):
        return team_ok
    return and_(team_ok, WorkItem.restricted.is_(False))


def lease_for(seconds: int | None) -> timedelta:
    value = LEASE_SECONDS if seconds is None else seconds
    if not 1 <= value <= MAX_LEASE_SECONDS:
        raise InvalidInput.from_field("lease_seconds", f"must be between 1 and {MAX_LEASE_SECONDS}")
    return timedelta(seconds=value)


def _agent_locked(session: Session, user_id: str) -> Agent:
    """The caller's profile, created with defaults on first use, locked: one claim at a time each."""
    session.execute(pg_insert(Agent).values(user_id=user_id).on_conflict_do_nothing())
    return session.scalars(select(Agent).where(Agent.user_id == user_id).with_for_update()).one()


def member_queues(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(QueueMember.queue).where(QueueMember.user_id == user_id)))


def claim_next(
    *,
    session: Session,
    events: EventWriter,
    principal: Principal,
    queue: str | None = None,
    lease_seconds: int | None = None,
) -> WorkItem | None:
    """Give the caller the best queued case it may take, or None when there is none."""
    require_roles(principal, *WORKERS, action="claim work")
    lease = lease_for(lease_seconds)
    me = principal.user_id
    agent = _agent_locked(session, me)
    if agent.availability != "available":
        raise Conflict(f"you are {agent.availability}; set your availability to available to claim work")
    load = load_of(session, me)
    if load >= agent.capacity:
        raise Conflict(f"you are at capacity ({load} of {agent.capacity} open cases)")
    queues = member_queues(session, me)
    if queue is not None:
        if queue not in queues:
            raise PermissionDenied(f"you are not a member of queue {queue}")
        queues = [queue]
    if not queues:
        return None
    pick = (
        select(WorkItem.case_id)
        .where(
            WorkItem.queue.in_(queues) if len(queues) > 1 else WorkItem.queue == queues[0],
            WorkItem.status == "queued",
            WorkItem.required_skills.contained_by(effective_skills(agent)),
            visibility_clause(principal),
        )
        .order_by(WorkItem.rank.desc(), WorkItem.case_id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    at = now()
    claimed = session.execute(
        update(WorkItem)
        .where(WorkItem.case_id == pick)
        .values(
            status="assigned",
            assigned_to=me,
            assigned_at=at,
            assigned_via="claim",
            lease_expires_at=at + lease,
            updated_at=at,
        )
        .returning(WorkItem)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    record_assignment(session, claimed, action="claim", previous_assignee=None, by=me)
    emit_assigned(session, events, claimed, previous_assignee=None, via="claim", by=me)
    return claimed


def _item_for_change(session: Session, principal: Principal, case_id: str) -> WorkItem:
    item = session.scalars(select(WorkItem).where(WorkItem.case_id == case_id).with_for_update()).first()
    if item is None or not visible(item, principal):
        raise NotFound(f"case {case_id} is in no queue")
    return item


def _own(item: WorkItem, principal: Principal, action: str) -> None:
    if item.status != "assigned" or item.assigned_to is None:
        raise Conflict(f"case {item.reference} is not assigned to anyone")
    if item.assigned_to != principal.user_id and not is_manager(principal):
        raise PermissionDenied(f"only the assignee or a supervisor may {action} this case")


def renew_lease(
    *, session: Session, principal: Principal, case_id: str, lease_seconds: int | None = None
) -> WorkItem:
    """Extend the caller's own claim (the assignee only)."""
    require_roles(principal, *WORKERS, action="renew a claim")
    lease = lease_for(lease_seconds)
    item = _item_for_change(session, principal, case_id)
    if item.status != "assigned" or item.assigned_to != principal.user_id:
        if item.status == "assigned":
            raise PermissionDenied("only the assignee renews a claim")
        raise Conflict(f"case {item.reference} is not claimed (its lease may have expired)")
    if item.lease_expires_at is None:
        raise Conflict(f"case {item.reference} was assigned, not claimed: it has no lease to renew")
    item.lease_expires_at = now() + lease
    return item


def _unassign(
    session: Session,
    events: EventWriter,
    item: WorkItem,
    *,
    reason: str,
    action: str,
    by: str | None,
    why: str | None,
) -> None:
    previous = item.assigned_to
    item.status = "queued"
    item.assigned_to = None
    item.assigned_at = None
    item.assigned_via = None
    item.lease_expires_at = None
    record_assignment(session, item, action=action, previous_assignee=previous, by=by, reason=why)
    emit_unassigned(
        session,
        events,
        case_id=item.case_id,
        case_version=item.case_version,
        queue=item.queue,
        previous_assignee=previous,
        reason=reason,
        by=by,
    )


def release(
    *, session: Session, events: EventWriter, principal: Principal, case_id: str, reason: str | None = None
) -> WorkItem:
    """Put a case back in its queue: the assignee, or a supervisor for anyone."""
    require_roles(principal, *WORKERS, action="release work")
    item = _item_for_change(session, principal, case_id)
    _own(item, principal, "release")
    _unassign(session, events, item, reason="released", action="release", by=principal.user_id, why=reason)
    return item


def _check_assignee(session: Session, item: WorkItem, assignee: str, force: bool, field: str) -> None:
    if session.get(QueueMember, (item.queue, assignee)) is None:
        raise InvalidInput.from_field(field, f"{assignee} is not a member of queue {item.queue}")
    if force:
        return
    agent = session.get(Agent, assignee)
    availability = agent.availability if agent else "available"
    if availability == "off":
        raise Conflict(f"{assignee} is off; pass force to assign anyway")
    capacity = agent.capacity if agent else 5
    load = load_of(session, assignee)
    if load >= capacity:
        raise Conflict(f"{assignee} is at capacity ({load} of {capacity}); pass force to assign anyway")


def _assign(
    session: Session,
    events: EventWriter,
    principal: Principal,
    item: WorkItem,
    assignee: str,
    *,
    via: str,
    reason: str | None,
    force: bool,
    field: str = "assignee",
) -> bool:
    if item.status == "closed":
        raise Conflict(f"case {item.reference} is closed")
    previous = item.assigned_to if item.status == "assigned" else None
    if previous == assignee:
        return False
    _check_assignee(session, item, assignee, force, field)
    by = principal.user_id
    if previous:
        _unassign(session, events, item, reason="reassigned", action="unassign", by=by, why=reason)
    item.status = "assigned"
    item.assigned_to = assignee
    item.assigned_at = now()
    item.assigned_via = via if via == "bulk" else ("reassign" if previous else "assign")
    item.lease_expires_at = None  # a supervisor's assignment stands until released or reassigned
    record_assignment(
        session, item, action=item.assigned_via, previous_assignee=previous, by=by, reason=reason
    )
    emit_assigned(session, events, item, previous_assignee=previous, via=item.assigned_via, by=by)
    return True


def assign(
    *,
    session: Session,
    events: EventWriter,
    principal: Principal,
    case_id: str,
    assignee: str,
    reason: str | None = None,
    force: bool = False,
) -> WorkItem:
    """Assign or reassign a case to a member of its queue (supervisors and admins)."""
    require_roles(principal, ROLE_SUPERVISOR, ROLE_ADMIN, action="assign or reassign work")
    item = _item_for_change(session, principal, case_id)
    _assign(session, events, principal, item, assignee, via="assign", reason=reason, force=force)
    return item


def bulk(
    *,
    session: Session,
    events: EventWriter,
    principal: Principal,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Reallocate many cases at once (supervisors and admins).

    Select by ``case_ids`` or ``from_assignee`` (optionally within ``queue``); then ``to_queue``
    moves them, ``assignees`` deals them out in turn, ``unassign: true`` returns them to the queue.
    """
    require_roles(principal, ROLE_SUPERVISOR, ROLE_ADMIN, action="reallocate work")
    from services.routing.logic.views import BulkIn  # the input schema lives with the other inputs

    spec = BulkIn.parse(body)
    query = select(WorkItem).where(WorkItem.status != "closed", visibility_clause(principal))
    if spec.case_ids is not None:
        query = query.where(WorkItem.case_id.in_(spec.case_ids))
    if spec.from_assignee is not None:
        query = query.where(WorkItem.assigned_to == spec.from_assignee, WorkItem.status == "assigned")
    if spec.queue is not None:
        query = query.where(WorkItem.queue == spec.queue)
    items = list(session.scalars(query.order_by(WorkItem.case_id).limit(BULK_LIMIT).with_for_update()))
    if spec.case_ids is not None:
        missing = sorted(set(spec.case_ids) - {i.case_id for i in items})
        if missing:
            raise NotFound(f"not in any open queue: {', '.join(missing[:10])}")
    results = []
    by = principal.user_id
    for index, item in enumerate(items):
        outcome = []
        if spec.to_queue and move_to_queue(
            session=session,
            events=events,
            case_id=item.case_id,
            queue=spec.to_queue,
            reason=spec.reason,
            actor=by,
        ):
            outcome.append("moved")
        if spec.unassign and item.status == "assigned":
            _unassign(session, events, item, reason="reassigned", action="unassign", by=by, why=spec.reason)
            outcome.append("unassigned")
        if spec.assignees:
            target = spec.assignees[index % len(spec.assignees)]
            if _assign(
                session,
                events,
                principal,
                item,
                target,
                via="bulk",
                reason=spec.reason,
                force=spec.force,
                field="assignees",
            ):
                outcome.append(f"assigned to {target}")
        results.append(
            {
                "case_id": item.case_id,
                "queue": item.queue,
                "assigned_to": item.assigned_to,
                "outcome": outcome,
            }
        )
    return {"matched": len(items), "changed": sum(1 for r in results if r["outcome"]), "items": results}


def expire_leases(*, session: Session, events: EventWriter, limit: int = 500) -> int:
    """Return items whose lease ran out to their queue; safe on any number of replicas at once."""
    expired = (
        select(WorkItem.case_id, WorkItem.assigned_to)
        .where(WorkItem.status == "assigned", WorkItem.lease_expires_at < func.now())
        .order_by(WorkItem.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    rows = session.execute(
        update(WorkItem)
        .where(WorkItem.case_id == expired.c.case_id)
        .values(status="queued", assigned_to=None, assigned_at=None, assigned_via=None, lease_expires_at=None)
        .returning(WorkItem.case_id, WorkItem.queue, WorkItem.case_version, expired.c.assigned_to)
        .execution_options(synchronize_session=False)
    ).all()
    for case_id, queue, case_version, previous in rows:
        session.add(
            Assignment(
                case_id=case_id,
                queue=queue,
                action="lease_expired",
                assignee=None,
                previous_assignee=previous,
                by=None,
                reason="the claim's lease expired",
            )
        )
        emit_unassigned(
            session,
            events,
            case_id=case_id,
            case_version=case_version,
            queue=queue,
            previous_assignee=previous,
            reason="lease_expired",
            by=None,
        )
    return len(rows)
