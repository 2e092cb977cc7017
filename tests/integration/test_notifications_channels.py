"""The notifications service on real PostgreSQL and RabbitMQ: staff notifications from events
(assignment, SLA, followed cases, mentions), preferences, and the claim-before-send states."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from nameko.testing.services import entrypoint_hook
from sqlalchemy.orm import sessionmaker

from casekit.contracts.events import make_envelope
from casekit.db import make_engine, utcnow
from casekit.errors import PreconditionRequired, StaleVersion
from services.notifications.logic import outbound
from services.notifications.models import OutboundMessage
from services.notifications.service import NotificationsService
from tests.integration.helpers import call, sql

pytestmark = pytest.mark.integration
ANN = {"user_id": "ann", "roles": "agent"}


@pytest.fixture
def notifications(start_service: Callable[..., Any]) -> Any:
    return start_service(NotificationsService, db="notifications")


def deliver(container: Any, handler: str, producer: str, type_: str, data: dict, case_id: str) -> dict:
    event = make_envelope(producer=producer, type=type_, data=data, case_id=case_id, case_version=1)
    for _ in range(2):  # a redelivery changes nothing
        with entrypoint_hook(container, handler) as hook:
            hook(event)
    return event


def kinds(container: Any, context: dict) -> list[str]:
    return sorted(n["kind"] for n in call(container, "inbox", context=context)["items"])


def test_assignment_sla_follow_and_mention_each_notify_the_right_people_once(notifications: Any) -> None:
    case_id = str(uuid.uuid4())
    snap = {"case": {"id": case_id, "reference": "CMP-2026-000009", "title": "Leak"}}
    deliver(
        notifications,
        "handle_case_assigned",
        "routing",
        "case_assigned",
        {"queue": "q", "assignee": "ann", "by": "sup", "via": "assign", **snap},
        case_id,
    )
    deliver(
        notifications,
        "handle_case_assigned",
        "routing",
        "case_assigned",
        {"queue": "q", "assignee": "bob", "by": "bob", "via": "claim", **snap},
        case_id,
    )  # claimed himself
    deliver(
        notifications,
        "handle_sla_warning",
        "routing",
        "sla_warning",
        {"clock": "resolution", "queue": "q", "supervisor_ids": ["sup"], "assignee": "ann", **snap},
        case_id,
    )
    sql(notifications.config["DB_URL"], "INSERT INTO subscriptions VALUES ('bob', %s, now())", (case_id,))
    deliver(
        notifications,
        "handle_intake_received",
        "cases",
        "intake_received",
        {"item": {"channel": "email", "from": "x@example.org", "subject": "hi"}, **snap},
        case_id,
    )
    deliver(
        notifications,
        "handle_note_added",
        "cases",
        "note_added",
        {"note": {"body": "@sup and @ann look", "author": "ann"}, **snap},
        case_id,
    )
    assert kinds(notifications, ANN) == ["case_assigned", "sla_warning"]  # not her own mention
    assert kinds(notifications, {"user_id": "bob", "roles": "agent"}) == ["new_message"]
    assert kinds(notifications, {"user_id": "sup", "roles": "supervisor"}) == ["mention", "sla_warning"]
    assert call(notifications, "inbox", context=ANN)["unread"] == 2
    assert call(notifications, "mark_read", None, True, context=ANN)["unread"] == 0


def test_email_preference_queues_an_outbound_email_per_notification(notifications: Any) -> None:
    call(
        notifications,
        "put_preferences",
        {"channels": {"case_assigned": ["email"]}, "email": "ann@staff.example"},
        context=ANN,
    )
    case_id = str(uuid.uuid4())
    deliver(
        notifications,
        "handle_case_assigned",
        "routing",
        "case_assigned",
        {"queue": "q", "assignee": "ann", "by": "sup", "case": {"reference": "R-1", "title": "t"}},
        case_id,
    )
    rows = sql(
        notifications.config["DB_URL"], "SELECT to_addr, purpose, state, recorded FROM outbound_messages"
    )
    assert rows == [("ann@staff.example", "staff", "queued", True)]
    assert kinds(notifications, ANN) == []  # email only


def test_preferences_and_templates_check_the_gateways_preconditions(notifications: Any) -> None:
    none = {"if_match": None, "if_none_match": None}
    body = {"channels": {"mention": ["in_app"]}}
    assert call(notifications, "get_preferences", context=ANN)["version"] == 0
    assert call(notifications, "put_preferences", body, none, context=ANN)["version"] == 1
    with pytest.raises(PreconditionRequired):
        call(notifications, "put_preferences", body, none, context=ANN)
    stale, current = {"if_match": [0], "if_none_match": None}, {"if_match": [1], "if_none_match": None}
    with pytest.raises(StaleVersion):
        call(notifications, "put_preferences", body, stale, context=ANN)
    assert call(notifications, "put_preferences", body, current, context=ANN)["version"] == 2
    admin = {"user_id": "admin-1", "roles": "admin"}
    template = {"subject": "Hi", "text": "Hello {{ customer.name }}"}
    assert call(notifications, "get_template", "reply", "fr", context=admin)["version"] == 0
    create_only = {"if_match": None, "if_none_match": "*"}
    saved = call(notifications, "put_template", "reply", "fr", template, create_only, context=admin)
    assert saved["version"] == 1
    with pytest.raises(StaleVersion):
        call(notifications, "put_template", "reply", "fr", template, create_only, context=admin)
    assert call(notifications, "get_template", "reply", "fr", context=admin)["version"] == 1


def test_claim_before_send_recovers_expired_leases_safely(notifications: Any) -> None:
    engine = make_engine(notifications.config["DB_URL"], pool_size=1)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with sessions() as s:
            for key in ("a", "b", "c"):
                outbound.queue(
                    s,
                    key=key,
                    case_id=None,
                    channel="email" if key != "c" else "sms",
                    to="x@example.org",
                    subject="s",
                    text="t",
                    html=None,
                    domain="casework.test",
                )
            s.commit()
            claimed = [outbound.claim(s, now=utcnow(), lease=1) for _ in range(3)]
            s.commit()
            assert [r is not None for r in claimed] == [True, True, True]
            assert outbound.claim(s, now=utcnow(), lease=1) is None  # nothing left to claim
            by_key = {r.idempotency_key: r for r in claimed}
            outbound.transmitting(by_key["b"])
            outbound.transmitting(by_key["c"])
            s.commit()
            later = utcnow() + timedelta(seconds=5)
            recovered = outbound.recover(s, now=later, idempotent_provider={"email": False, "sms": True})
            s.commit()
            assert len(recovered) == 3
            states = {r.idempotency_key: r.state for r in s.query(OutboundMessage)}
            # never contacted: retried; handed to SMTP: uncertain, never resent; idempotent SMS: retried
            assert states == {"a": "queued", "b": "uncertain", "c": "queued"}
            row, created = outbound.queue(
                s,
                key="a",
                case_id=None,
                channel="email",
                to="y@example.org",
                subject="",
                text="",
                html=None,
                domain="casework.test",
            )
            assert not created and row.to_addr == "x@example.org"
            row = outbound.claim(s, now=later, lease=60)
            outbound.failed(s, row, "451 try later", temporary=True, backoff=10)
            s.commit()
            assert row.state == "queued" and row.next_attempt_at > later
    finally:
        engine.dispose()
