"""Business rules of the routing service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, require_authenticated, require_roles
from casekit.contracts import events as ev
from casekit.contracts.cases import PRIORITY_RANK, Priority
from casekit.errors import InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.routing.models import QueueMember, WorkItem, WorkQueue

DEFAULT_QUEUE = "default"
MEMBER_ROLES = ("agent", "supervisor")


require_reader = require_authenticated


def choose_queue(_case: dict[str, Any]) -> str:
    """Where a new case goes. Routing rules replace this with an ordered rule set."""
    return DEFAULT_QUEUE


def supervisors_of(session: Session, queue: str) -> list[str]:
    return list(
        session.scalars(
            select(QueueMember.user_id)
            .where(QueueMember.queue == queue, QueueMember.role == "supervisor")
            .order_by(QueueMember.user_id)
        )
    )


def enqueue_case(*, session: Session, case: dict[str, Any], case_version: int, events: EventWriter) -> bool:
    """Put a newly opened case in its queue; False when it is already there."""
    queue = choose_queue(case)
    stmt = (
        pg_insert(WorkItem)
        .values(
            case_id=case["id"],
            queue=queue,
            reference=case["reference"],
            title=case["title"],
            priority=PRIORITY_RANK[Priority(case["priority"])],
            status="queued",
            case_version=case_version,
        )
        .on_conflict_do_nothing()
        .returning(WorkItem.case_id)
    )
    if session.execute(stmt).first() is None:
        return False
    events.emit(
        session,
        ev.CASE_QUEUED,
        {
            "queue": queue,
            "reference": case["reference"],
            "title": case["title"],
            "priority": case["priority"],
            "supervisor_ids": supervisors_of(session, queue),
        },
        case_id=case["id"],
        case_version=case_version,
    )
    return True


def get_work_item(*, session: Session, principal: Principal, case_id: str) -> WorkItem:
    require_reader(principal)
    item = session.get(WorkItem, case_id)
    if item is None:
        raise NotFound(f"case {case_id} is in no queue")
    return item


def queue_view(*, session: Session, principal: Principal, queue: str, limit: int = 50) -> list[WorkItem]:
    require_reader(principal)
    if session.get(WorkQueue, queue) is None:
        raise NotFound(f"queue {queue} not found")
    return list(
        session.scalars(
            select(WorkItem)
            .where(WorkItem.queue == queue, WorkItem.status == "queued")
            .order_by(WorkItem.priority.desc(), WorkItem.created_at)
            .limit(max(1, min(limit, 200)))
        )
    )


def add_member(*, session: Session, principal: Principal, queue: str, user_id: str, role: str) -> None:
    require_roles(principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="manage queue members")
    if role not in MEMBER_ROLES:
        raise InvalidInput.from_field("role", f"must be one of {', '.join(MEMBER_ROLES)}")
    if session.get(WorkQueue, queue) is None:
        raise NotFound(f"queue {queue} not found")
    session.execute(
        pg_insert(QueueMember)
        .values(queue=queue, user_id=user_id, role=role)
        .on_conflict_do_update(index_elements=["queue", "user_id"], set_={"role": role})
    )


def work_item_out(item: WorkItem) -> dict[str, Any]:
    return {
        "case_id": item.case_id,
        "queue": item.queue,
        "reference": item.reference,
        "title": item.title,
        "priority": item.priority,
        "status": item.status,
        "assigned_to": item.assigned_to,
        "case_version": item.case_version,
        "queued_at": item.created_at.isoformat() if item.created_at else None,
    }
