"""Transport for the notifications service."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import requests
from nameko.rpc import RpcProxy
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    ROLE_SYSTEM,
    Principal,
    PrincipalProvider,
    require_roles,
)
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED, InvalidInput, NotFound
from casekit.messaging import event_handler
from casekit.outbox import first_delivery
from casekit.preconditions import Precondition
from casekit.rpc import rpc
from services.notifications.logic import ingest, outbound, staff, templates, webhooks
from services.notifications.models import DeliveryAttempt, OutboundMessage, processed_events

SENDERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN, ROLE_SYSTEM)
EVENT = r"^[a-z][a-z0-9_]{0,63}$"


def mail_domain() -> str:
    return os.environ.get("CASEWORK_MAIL_DOMAIN", "casework.invalid")


class ServiceBus:
    """``ingest.Bus`` over this worker's RPC proxies (the caller's context travels along)."""

    def __init__(self, **proxies: Any) -> None:
        self.proxies = proxies

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.proxies[service], method)(*args, **kwargs)


class NotificationsService:
    name = "notifications"

    db = Database(migrations=Path(__file__).parent / "migrations")
    principal: Principal = PrincipalProvider()
    cases_rpc = RpcProxy("cases")
    documents_rpc = RpcProxy("documents")
    self_rpc = RpcProxy("notifications")

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    # --- events to staff notifications --------------------------------------------------------

    def _notify(self, event: dict[str, Any], consumer: str) -> None:
        event = check_envelope(event)
        if first_delivery(self.db, processed_events, f"notifications.{consumer}", event["id"]):
            staff.on_event(self.db, event, domain=mail_domain())
        self.db.commit()

    @event_handler("routing", ev.CASE_QUEUED)
    def handle_case_queued(self, event: dict[str, Any]) -> None:
        self._notify(event, "case_queued")

    @event_handler("routing", ev.CASE_ASSIGNED)
    def handle_case_assigned(self, event: dict[str, Any]) -> None:
        self._notify(event, "case_assigned")

    @event_handler("routing", ev.SLA_WARNING)
    def handle_sla_warning(self, event: dict[str, Any]) -> None:
        self._notify(event, "sla_warning")

    @event_handler("routing", ev.SLA_BREACHED)
    def handle_sla_breached(self, event: dict[str, Any]) -> None:
        self._notify(event, "sla_breached")

    @event_handler("cases", ev.INTAKE_RECEIVED)
    def handle_intake_received(self, event: dict[str, Any]) -> None:
        self._notify(event, "intake_received")

    @event_handler("cases", ev.NOTE_ADDED)
    def handle_note_added(self, event: dict[str, Any]) -> None:
        self._notify(event, "note_added")

    # --- the inbox, preferences, subscriptions ------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def inbox(self, unread_only: bool = False, limit: int = 50, after: str | None = None) -> dict[str, Any]:
        return staff.inbox(
            session=self.db, principal=self.principal, unread_only=unread_only, limit=limit, after=after
        )

    @rpc(expected_exceptions=EXPECTED)
    def mark_read(self, ids: list[str] | None = None, all: bool = False) -> dict[str, Any]:  # noqa: A002
        count = staff.mark_read(session=self.db, principal=self.principal, ids=ids, all=all)
        self.db.commit()
        return {"marked": count, **staff.inbox(session=self.db, principal=self.principal, limit=1)}

    @rpc(expected_exceptions=EXPECTED)
    def get_preferences(self) -> dict[str, Any]:
        return staff.preferences(self.db, staff.require_user(self.principal))

    @rpc(expected_exceptions=EXPECTED)
    def put_preferences(
        self, body: dict[str, Any], precondition: Precondition | None = None
    ) -> dict[str, Any]:
        out = staff.set_preferences(
            session=self.db, principal=self.principal, body=body, precondition=precondition
        )
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def follow(self, case_id: str, on: bool = True) -> dict[str, Any]:
        self.cases_rpc.get_case(case_id)  # 404 for a case the caller may not see
        out = staff.follow(session=self.db, principal=self.principal, case_id=case_id, on=on)
        self.db.commit()
        return out

    # --- outbound -----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def send_message(self, case_id: str, spec: dict[str, Any], idempotency_key: str | None = None) -> dict:
        """Queue an email or SMS from the case (template or free text); idempotent by key."""
        require_roles(self.principal, *SENDERS, action="send messages")
        case = self.cases_rpc.get_case(case_id)
        channel = spec.get("channel") or "email"
        variables = templates.variables(
            case,
            message=str(spec.get("body") or ""),
            sender={"user_id": self.principal.user_id, "name": spec.get("sender_name") or ""},
        )
        to = spec.get("to") or (
            variables["customer"]["email"] if channel == "email" else variables["customer"]["phone"]
        )
        if not to:
            raise InvalidInput.from_field(
                "to", "is required: the case has no customer address for this channel"
            )
        if channel == "email" and not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", str(to)):
            raise InvalidInput.from_field("to", "is not an email address")
        if channel == "sms" and not webhooks.PHONE.match(str(to)):
            raise InvalidInput.from_field("to", "is not a phone number")
        if spec.get("template"):
            template = templates.load(self.db, str(spec["template"]), str(spec.get("locale") or "en"))
            rendered = templates.render(template, variables)
        elif spec.get("body"):
            subject = str(spec.get("subject") or f"[{case['reference']}] {case['title']}")
            if case["reference"] not in subject:
                subject = f"[{case['reference']}] {subject}"
            rendered = {"subject": " ".join(subject.split())[:998], "text": str(spec["body"]), "html": None}
        else:
            raise InvalidInput.from_field("body", "a template or a body is required")
        key = idempotency_key or spec.get("idempotency_key")
        if not key:
            raise InvalidInput.from_field("idempotency_key", "is required (a retry must not send twice)")
        try:
            row, created = outbound.queue(
                self.db,
                key=f"{self.principal.user_id}:{key}"[:255] if not str(key).startswith("ack:") else key,
                case_id=case["id"],
                channel=channel,
                to=str(to),
                subject=rendered["subject"],
                text=rendered["text"] if channel == "email" else rendered["text"][:1600],
                html=rendered["html"],
                domain=mail_domain(),
                purpose=str(spec.get("purpose") or "case")[:32],
                in_reply_to=spec.get("in_reply_to"),
                created_by=self.principal.user_id,
            )
            if self.principal.user_id and not self.principal.has_role(ROLE_SYSTEM):
                staff.follow(session=self.db, principal=self.principal, case_id=case["id"])
            self.db.commit()
        except IntegrityError:
            self.db.rollback()
            return self.send_message(case_id, spec, idempotency_key)
        return {**outbound.message_out(row), "created": created}

    @rpc(expected_exceptions=EXPECTED)
    def list_messages(self, case_id: str) -> list[dict[str, Any]]:
        case = self.cases_rpc.get_case(case_id)
        return outbound.for_case(self.db, case["id"])

    @rpc(expected_exceptions=EXPECTED)
    def get_message(self, message_id: str) -> dict[str, Any]:
        row = self.db.get(OutboundMessage, message_id)
        if row is None or row.purpose == "staff":
            raise NotFound("no such message")
        self.cases_rpc.get_case(row.case_id)
        attempts = list(
            self.db.query(DeliveryAttempt)
            .filter(DeliveryAttempt.message_id == row.id)
            .order_by(DeliveryAttempt.id)
        )
        return outbound.message_out(row, attempts)

    # --- templates ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_template(self, event: str, locale: str) -> dict[str, Any]:
        require_roles(self.principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="read templates")
        return templates.load(self.db, event, locale)

    @rpc(expected_exceptions=EXPECTED)
    def put_template(
        self, event: str, locale: str, body: dict[str, Any], precondition: Precondition | None = None
    ) -> dict[str, Any]:
        require_roles(self.principal, ROLE_ADMIN, action="edit templates")
        if not re.match(EVENT, event) or not re.match(r"^[a-z]{2}(-[A-Za-z]{2})?$", locale):
            raise InvalidInput.from_field("event", "event: a-z0-9_; locale: like en or en-GB")
        out = templates.save(self.db, event, locale, body, self.principal.user_id, precondition)
        self.db.commit()
        return out

    # --- provider webhooks (signature checked by the gateway) ---------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def take_in_webhook(self, channel: str, params: dict[str, str]) -> dict[str, Any]:
        require_roles(self.principal, ROLE_SYSTEM, action="take in provider webhooks")
        prefixes = tuple(
            p for p in os.environ.get("MEDIA_URL_PREFIXES", "https://api.twilio.com/").split(",") if p
        )
        sid, token = os.environ.get("TWILIO_ACCOUNT_SID", ""), os.environ.get("TWILIO_AUTH_TOKEN", "")
        max_bytes = int(os.environ.get("MEDIA_MAX_BYTES", str(20 * 1024 * 1024)))

        def fetcher(url: str) -> bytes:
            try:
                return webhooks.fetch(
                    url, prefixes=prefixes, auth=(sid, token) if sid else None, max_bytes=max_bytes
                )
            except requests.RequestException as exc:
                raise InvalidInput.from_field("MediaUrl", f"could not be fetched: {exc}") from None

        if channel == "sms":
            item = webhooks.sms(params, fetcher=fetcher)
        elif channel == "fax":
            item = webhooks.fax_in(params, fetcher=fetcher)
        else:
            raise InvalidInput.from_field("channel", "sms or fax")
        bus = ServiceBus(cases=self.cases_rpc, documents=self.documents_rpc, notifications=self.self_rpc)
        return ingest.take_in(bus, item)
