"""Transport for the notifications service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from casekit.context import Principal, PrincipalProvider
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED
from casekit.messaging import event_handler
from casekit.outbox import first_delivery
from casekit.rpc import rpc
from services.notifications import logic
from services.notifications.models import processed_events


class NotificationsService:
    name = "notifications"

    db = Database(migrations=Path(__file__).parent / "migrations")
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    @event_handler("routing", ev.CASE_QUEUED)
    def handle_case_queued(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if first_delivery(self.db, processed_events, "notifications.case_queued", event["id"]):
            logic.notify_queue_supervisors(session=self.db, event=event)
        self.db.commit()

    @rpc(expected_exceptions=EXPECTED)
    def inbox(self, unread_only: bool = False, limit: int = 50) -> dict[str, Any]:
        return logic.inbox(session=self.db, principal=self.principal, unread_only=unread_only, limit=limit)

    @rpc(expected_exceptions=EXPECTED)
    def mark_read(self, ids: list[str]) -> dict[str, Any]:
        count = logic.mark_read(session=self.db, principal=self.principal, ids=ids)
        self.db.commit()
        return {"marked": count}
