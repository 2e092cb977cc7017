"""Transport for the routing service."""

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
from casekit.outbox import EventWriter, Outbox, first_delivery
from casekit.rpc import rpc
from services.routing import logic
from services.routing.models import outbox, processed_events


class RoutingService:
    name = "routing"

    db = Database(migrations=Path(__file__).parent / "migrations")
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    @event_handler("cases", ev.CASE_OPENED)
    def handle_case_opened(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if first_delivery(self.db, processed_events, "routing.case_opened", event["id"]):
            logic.enqueue_case(
                session=self.db,
                case=event["data"]["case"],
                case_version=event["case_version"] or 1,
                events=self.events,
            )
        self.db.commit()

    @rpc(expected_exceptions=EXPECTED)
    def get_work_item(self, case_id: str) -> dict[str, Any]:
        item = logic.get_work_item(session=self.db, principal=self.principal, case_id=case_id)
        return logic.work_item_out(item)

    @rpc(expected_exceptions=EXPECTED)
    def queue_view(self, queue: str, limit: int = 50) -> list[dict[str, Any]]:
        items = logic.queue_view(session=self.db, principal=self.principal, queue=queue, limit=limit)
        return [logic.work_item_out(i) for i in items]

    @rpc(expected_exceptions=EXPECTED)
    def add_queue_member(self, queue: str, user_id: str, role: str) -> dict[str, Any]:
        logic.add_member(session=self.db, principal=self.principal, queue=queue, user_id=user_id, role=role)
        self.db.commit()
        return {"queue": queue, "user_id": user_id, "role": role}
