"""Shared pieces of routing logic: priorities, the clock, audit rows and routing events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.contracts import events as ev
from casekit.contracts.cases import PRIORITY_RANK, Priority
from casekit.outbox import EventWriter
from services.routing.models import Assignment, QueueMember, RoutingDecision, WorkItem, WorkQueue

PRIORITY_NAMES = {rank: p.value for p, rank in PRIORITY_RANK.items()}
MAX_PRIORITY = max(PRIORITY_NAMES)
MIN_PRIORITY = min(PRIORITY_NAMES)


def now() -> datetime:
    return datetime.now(UTC)


def priority_rank(name: str) -> int:
    return PRIORITY_RANK[Priority(name)]


def priority_name(rank: int) -> str:
    return PRIORITY_NAMES[max(MIN_PRIORITY, min(MAX_PRIORITY, rank))]


def effective_priority(item: WorkItem) -> int:
    boosted = max(MIN_PRIORITY, min(MAX_PRIORITY, (item.base_priority or 2) + (item.priority_boost or 0)))
    return max(boosted, item.escalated_priority or 0)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def supervisors_of(session: Session, queue: str) -> list[str]:
    return list(
        session.scalars(
            select(QueueMember.user_id)
            .where(QueueMember.queue == queue, QueueMember.role == "supervisor")
            .order_by(QueueMember.user_id)
        )
    )


def ensure_queue(session: Session, queue: str) -> None:
    if session.get(WorkQueue, queue) is None:
        session.add(WorkQueue(name=queue, title=queue.replace("_", " ").replace("-", " ").capitalize()))
        session.flush()


def record_decision(
    session: Session,
    item: WorkItem,
    *,
    trigger: str,
    previous_queue: str | None,
    rule: str | None = None,
    rule_set_version: int | None = None,
    actor: str | None = None,
    reason: str | None = None,
    explain: dict[str, Any] | None = None,
) -> None:
    session.add(
        RoutingDecision(
            case_id=item.case_id,
            case_version=item.case_version,
            trigger=trigger,
            rule_set_version=rule_set_version,
            rule=rule,
            queue=item.queue,
            previous_queue=previous_queue,
            actor=actor,
            reason=reason,
            explain=explain or {},
        )
    )


def record_assignment(
    session: Session,
    item: WorkItem,
    *,
    action: str,
    previous_assignee: str | None,
    by: str | None,
    reason: str | None = None,
) -> None:
    session.add(
        Assignment(
            case_id=item.case_id,
            queue=item.queue,
            action=action,
            assignee=item.assigned_to,
            previous_assignee=previous_assignee,
            by=by,
            reason=reason,
            lease_expires_at=item.lease_expires_at,
        )
    )


def emit_queued(
    session: Session, events: EventWriter, item: WorkItem, *, previous_queue: str | None, rule: str | None
) -> None:
    events.emit(
        session,
        ev.CASE_QUEUED,
        {
            "queue": item.queue,
            "previous_queue": previous_queue,
            "rule": rule,
            "reference": item.reference,
            "title": item.title,
            "priority": priority_name(item.priority),
            "supervisor_ids": supervisors_of(session, item.queue),
        },
        case_id=item.case_id,
        case_version=item.case_version,
    )


def emit_assigned(
    session: Session,
    events: EventWriter,
    item: WorkItem,
    *,
    previous_assignee: str | None,
    via: str,
    by: str | None,
) -> None:
    events.emit(
        session,
        ev.CASE_ASSIGNED,
        {
            "queue": item.queue,
            "assignee": item.assigned_to,
            "previous_assignee": previous_assignee,
            "via": via,
            "by": by,
            "lease_expires_at": iso(item.lease_expires_at),
        },
        case_id=item.case_id,
        case_version=item.case_version,
    )


def emit_unassigned(
    session: Session,
    events: EventWriter,
    *,
    case_id: str,
    case_version: int | None,
    queue: str,
    previous_assignee: str,
    reason: str,
    by: str | None,
) -> None:
    events.emit(
        session,
        ev.CASE_UNASSIGNED,
        {"queue": queue, "previous_assignee": previous_assignee, "reason": reason, "by": by},
        case_id=case_id,
        case_version=case_version,
    )
