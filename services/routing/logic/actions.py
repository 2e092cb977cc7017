"""Routing actions other parts of routing call (SLA escalations): move a case, raise its priority.

Each locks the work item, changes it, records the decision and emits ``case_queued`` in the
caller's transaction, and is idempotent: it returns False (and does nothing) when the case is
already so, or is in no open queue.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.errors import InvalidInput
from casekit.outbox import EventWriter
from services.routing.logic.common import (
    effective_priority,
    emit_queued,
    ensure_queue,
    now,
    priority_rank,
    record_decision,
)
from services.routing.models import WorkItem


def _open_item(session: Session, case_id: str) -> WorkItem | None:
    item = session.scalars(select(WorkItem).where(WorkItem.case_id == case_id).with_for_update()).first()
    if item is None or item.status == "closed":
        return None
    return item


def move_to_queue(
    *, session: Session, events: EventWriter, case_id: str, queue: str, reason: str, actor: str | None = None
) -> bool:
    """Move an open case to ``queue`` (created when missing); its assignee, if any, keeps it."""
    item = _open_item(session, case_id)
    if item is None or item.queue == queue:
        return False
    ensure_queue(session, queue)
    previous = item.queue
    item.queue = queue
    item.queued_at = now()
    record_decision(session, item, trigger="move_queue", previous_queue=previous, actor=actor, reason=reason)
    session.flush()
    emit_queued(session, events, item, previous_queue=previous, rule=None)
    return True


def raise_priority(
    *, session: Session, events: EventWriter, case_id: str, priority: str, reason: str
) -> bool:
    """Raise an open case's effective priority to at least ``priority`` (never lowers it)."""
    try:
        rank = priority_rank(priority)
    except ValueError:
        raise InvalidInput.from_field("priority", f"unknown priority {priority!r}") from None
    item = _open_item(session, case_id)
    if item is None or item.priority >= rank:
        return False
    item.escalated_priority = rank
    item.priority = effective_priority(item)
    record_decision(session, item, trigger="raise_priority", previous_queue=item.queue, reason=reason)
    session.flush()
    emit_queued(session, events, item, previous_queue=item.queue, rule=None)
    return True
