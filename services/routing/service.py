"""Transport for the routing service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nameko.timer import timer
from sqlalchemy import text

from casekit.context import ROLE_ADMIN, ROLE_SYSTEM, Principal, PrincipalProvider, require_roles
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED
from casekit.messaging import event_handler
from casekit.outbox import EventWriter, Outbox, first_delivery
from casekit.preconditions import Precondition
from casekit.rpc import rpc
from services.routing import logic
from services.routing.logic import agents, claims, queues, ruleset, seed, sla, sla_store, sla_views, views
from services.routing.logic.sla_timer import SlaConfig, SlaSettings, config_timer
from services.routing.models import outbox, processed_events

LEASE_SWEEP_EVERY = float(os.environ.get("ROUTING_LEASE_SWEEP_SECONDS", "5"))


class RoutingService:
    name = "routing"

    db = Database(migrations=Path(__file__).parent / "migrations")
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()
    sla_settings: SlaConfig = SlaSettings()

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

    # --- routing: queues, rules, agents, claims (R1) -------------------------------------------

    def _sync_case(self, event: dict[str, Any]) -> None:
        """Keep the work item's copy of the case current; close, reopen or re-route as needed."""
        event = check_envelope(event)
        case = (event.get("data") or {}).get("case")
        if case and first_delivery(self.db, processed_events, f"routing.sync.{event['type']}", event["id"]):
            queues.sync_case(
                session=self.db,
                events=self.events,
                case=case,
                case_version=event["case_version"] or 1,
                trigger=event["type"],
            )
        self.db.commit()

    @event_handler("cases", ev.CASE_UPDATED)
    def sync_case_updated(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @event_handler("cases", ev.CASE_TRANSITIONED)
    def sync_case_transitioned(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @event_handler("cases", ev.CASE_CLOSED)
    def sync_case_closed(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @event_handler("cases", ev.CASE_REOPENED)
    def sync_case_reopened(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @event_handler("cases", ev.PARTY_ADDED)
    def sync_party_added(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @event_handler("cases", ev.CASE_MERGED)
    def sync_case_merged(self, event: dict[str, Any]) -> None:
        self._sync_case(event)

    @timer(interval=LEASE_SWEEP_EVERY)
    def lease_timer(self) -> None:
        self._expire_leases()

    def _expire_leases(self) -> int:
        total = 0
        while True:
            count = claims.expire_leases(session=self.db, events=self.events)
            self.db.commit()
            total += count
            if count < 500:
                return total

    @rpc(expected_exceptions=EXPECTED)
    def expire_leases(self) -> dict[str, int]:
        """Return expired claims to their queues now (admins; the timer does it every few seconds)."""
        require_roles(self.principal, ROLE_ADMIN, ROLE_SYSTEM, action="expire leases")
        return {"returned": self._expire_leases()}

    @rpc(expected_exceptions=EXPECTED)
    def list_queues(self) -> list[dict[str, Any]]:
        return queues.list_queues(session=self.db, principal=self.principal)

    @rpc(expected_exceptions=EXPECTED)
    def put_queue(self, queue: str, title: str) -> dict[str, Any]:
        out = queues.put_queue(session=self.db, principal=self.principal, queue=queue, title=title)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def remove_queue_member(self, queue: str, user_id: str) -> dict[str, Any]:
        removed = queues.remove_member(
            session=self.db, principal=self.principal, queue=queue, user_id=user_id
        )
        self.db.commit()
        return {"queue": queue, "user_id": user_id, "removed": removed}

    @rpc(expected_exceptions=EXPECTED)
    def queue_items(self, queue: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        return views.queue_items(
            session=self.db, principal=self.principal, queue=queue, filters=filters or {}
        )

    @rpc(expected_exceptions=EXPECTED)
    def queue_view(self, queue: str, limit: int = 50) -> list[dict[str, Any]]:
        """The first page of a queue's queued work (kept for older callers)."""
        return self.queue_items(queue, {"limit": limit})["items"]

    @rpc(expected_exceptions=EXPECTED)
    def queue_overview(self, queue: str) -> dict[str, Any]:
        return views.overview(session=self.db, principal=self.principal, queue=queue)

    @rpc(expected_exceptions=EXPECTED)
    def explain_item(self, queue: str, case_id: str) -> dict[str, Any]:
        return views.explain_item(session=self.db, principal=self.principal, queue=queue, case_id=case_id)

    @rpc(expected_exceptions=EXPECTED)
    def case_routing(self, case_id: str) -> dict[str, Any]:
        return views.case_routing(session=self.db, principal=self.principal, case_id=case_id)

    @rpc(expected_exceptions=EXPECTED)
    def my_work(self, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        return views.my_work(session=self.db, principal=self.principal, filters=filters or {})

    @rpc(expected_exceptions=EXPECTED)
    def claim_next(self, queue: str | None = None, lease_seconds: int | None = None) -> dict[str, Any] | None:
        item = claims.claim_next(
            session=self.db,
            events=self.events,
            principal=self.principal,
            queue=queue,
            lease_seconds=lease_seconds,
        )
        out = views.item_with_score(item, views.now()) if item is not None else None
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def renew_claim(self, case_id: str, lease_seconds: int | None = None) -> dict[str, Any]:
        item = claims.renew_lease(
            session=self.db, principal=self.principal, case_id=case_id, lease_seconds=lease_seconds
        )
        out = logic.work_item_out(item)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def release_case(self, case_id: str, reason: str | None = None) -> dict[str, Any]:
        item = claims.release(
            session=self.db, events=self.events, principal=self.principal, case_id=case_id, reason=reason
        )
        out = logic.work_item_out(item)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def assign_case(
        self, case_id: str, assignee: str, reason: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        item = claims.assign(
            session=self.db,
            events=self.events,
            principal=self.principal,
            case_id=case_id,
            assignee=assignee,
            reason=reason,
            force=force,
        )
        out = logic.work_item_out(item)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def bulk_reallocate(self, body: dict[str, Any]) -> dict[str, Any]:
        out = claims.bulk(session=self.db, events=self.events, principal=self.principal, body=body)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def get_rules(self, version: int | None = None) -> dict[str, Any]:
        return ruleset.get_rules(session=self.db, principal=self.principal, version=version)

    @rpc(expected_exceptions=EXPECTED)
    def put_rules(
        self, document: Any, expected_version: int | None = None, precondition: Precondition | None = None
    ) -> dict[str, Any]:
        out = ruleset.store_rules(
            session=self.db,
            principal=self.principal,
            document=document,
            expected_version=expected_version,
            precondition=precondition,
        )
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def reapply_rules(self, dry_run: bool = False, after: str | None = None) -> dict[str, Any]:
        out = queues.reapply_rules(
            session=self.db, events=self.events, principal=self.principal, dry_run=dry_run, after=after
        )
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def get_agent(self, user_id: str) -> dict[str, Any]:
        return agents.get_agent(session=self.db, principal=self.principal, user_id=user_id)

    @rpc(expected_exceptions=EXPECTED)
    def put_agent(
        self, user_id: str, body: dict[str, Any], precondition: Precondition | None = None
    ) -> dict[str, Any]:
        out = agents.put_agent(
            session=self.db, principal=self.principal, user_id=user_id, body=body, precondition=precondition
        )
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def list_agents(self) -> list[dict[str, Any]]:
        return agents.list_agents(session=self.db, principal=self.principal)

    @rpc(expected_exceptions=EXPECTED)
    def load_routing(self, document: dict[str, Any]) -> dict[str, Any]:
        """Load a routing document (queues, rules, and ``agents`` by user id): seed-demo, deploy tools."""
        out = seed.load_document(session=self.db, principal=self.principal, document=document)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def add_queue_member(self, queue: str, user_id: str, role: str) -> dict[str, Any]:
        logic.add_member(session=self.db, principal=self.principal, queue=queue, user_id=user_id, role=role)
        self.db.commit()
        return {"queue": queue, "user_id": user_id, "role": role}

    # --- SLA clocks, business calendars and the SLA timer (R2) -----------------------------------

    @event_handler("cases", ev.CASE_OPENED)
    @event_handler("cases", ev.CASE_UPDATED)
    @event_handler("cases", ev.CASE_TRANSITIONED)
    @event_handler("cases", ev.CASE_CLOSED)
    @event_handler("cases", ev.CASE_REOPENED)
    @event_handler("cases", ev.CASE_MERGED)
    @event_handler("cases", ev.NOTE_ADDED)
    @event_handler("cases", ev.INTAKE_RECEIVED)
    @event_handler("cases", ev.MESSAGE_SENT)
    def sla_case_event(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if first_delivery(self.db, processed_events, "routing.sla", event["id"]):
            sla.on_case_event(session=self.db, events=self.events, event=event)
        self.db.commit()

    @event_handler("notifications", ev.MESSAGE_SENT)
    @event_handler("notifications", ev.MESSAGE_RECEIVED)
    def sla_message_event(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if first_delivery(self.db, processed_events, "routing.sla", event["id"]):
            sla.on_message_event(session=self.db, events=self.events, event=event)
        self.db.commit()

    @config_timer("SLA_TIMER_INTERVAL", 5, eager=True)
    def sla_tick(self) -> int:
        """Fire due warnings and breaches (and any missed while no replica ran), once each."""
        sla.sync_pending_due(session=self.db, batch=self.sla_settings.batch)
        self.db.commit()
        fired = 0
        while True:
            claimed = sla.fire_due(session=self.db, events=self.events, batch=self.sla_settings.batch)
            self.db.commit()
            fired += claimed
            if claimed < self.sla_settings.batch:
                return fired

    @rpc(expected_exceptions=EXPECTED)
    def case_clocks(self, case_id: str) -> dict[str, Any]:
        return sla_views.case_clocks(session=self.db, principal=self.principal, case_id=case_id)

    @rpc(expected_exceptions=EXPECTED)
    def sla_at_risk(
        self, queue: str | None = None, within_seconds: int = 3600, limit: int = 50
    ) -> dict[str, Any]:
        return sla_views.at_risk(
            session=self.db, principal=self.principal, queue=queue, within_seconds=within_seconds, limit=limit
        )

    @rpc(expected_exceptions=EXPECTED)
    def list_calendars(self) -> list[dict[str, Any]]:
        return sla_store.list_calendars(session=self.db, principal=self.principal)

    @rpc(expected_exceptions=EXPECTED)
    def get_calendar(self, name: str) -> dict[str, Any]:
        return sla_store.get_calendar(session=self.db, principal=self.principal, name=name)

    @rpc(expected_exceptions=EXPECTED)
    def put_calendar(
        self, name: str, definition: dict[str, Any], precondition: Precondition | None = None
    ) -> dict[str, Any]:
        out = sla_store.put_calendar(
            session=self.db,
            principal=self.principal,
            name=name,
            definition=definition,
            precondition=precondition,
        )
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def get_sla_policy(self, case_type: str) -> dict[str, Any]:
        return sla_store.get_policy(session=self.db, principal=self.principal, case_type=case_type)

    @rpc(expected_exceptions=EXPECTED)
    def put_sla_policy(
        self, case_type: str, definition: dict[str, Any], precondition: Precondition | None = None
    ) -> dict[str, Any]:
        out = sla_store.put_policy(
            session=self.db,
            principal=self.principal,
            case_type=case_type,
            definition=definition,
            precondition=precondition,
        )
        self.db.commit()
        return out
