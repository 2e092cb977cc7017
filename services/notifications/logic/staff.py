"""Business rules of the notifications service."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.db import utcnow
from casekit.errors import PermissionDenied
from services.notifications.models import Notification


def require_user(principal: Principal) -> str:
    if not principal.authenticated:
        raise PermissionDenied("authentication required")
    return str(principal.user_id)


def notify_queue_supervisors(*, session: Session, event: dict[str, Any]) -> int:
    """One in-app notification per supervisor of the queue a case landed in."""
    data = event["data"]
    created = 0
    for user_id in data.get("supervisor_ids") or []:
        stmt = (
            pg_insert(Notification)
            .values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                case_id=event.get("case_id"),
                kind="case_queued",
                title=f"{data['reference']} queued in {data['queue']}: {data['title']}"[:300],
                body="",
                source_event_id=event["id"],
            )
            .on_conflict_do_nothing()
        )
        created += session.execute(stmt).rowcount
    return created


def inbox(
    *, session: Session, principal: Principal, unread_only: bool = False, limit: int = 50
) -> dict[str, Any]:
    user_id = require_user(principal)
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    rows = session.scalars(stmt.order_by(Notification.created_at.desc()).limit(max(1, min(limit, 200))))
    unread = session.scalar(
        select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return {"items": [notification_out(n) for n in rows], "unread": int(unread or 0)}


def mark_read(*, session: Session, principal: Principal, ids: list[str]) -> int:
    user_id = require_user(principal)
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.id.in_(ids), Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount)


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "case_id": n.case_id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
    }
