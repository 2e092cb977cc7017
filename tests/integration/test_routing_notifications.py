"""Routing and notifications consume real events from RabbitMQ, idempotently."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from casekit.contracts.events import make_envelope
from casekit.errors import NotFound
from services.notifications.service import NotificationsService
from services.routing.service import RoutingService
from tests.integration.helpers import call, sql

pytestmark = pytest.mark.integration

SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor"}


def case_opened(title: str = "Broken window", priority: str = "high") -> dict[str, Any]:
    case_id = str(uuid.uuid4())
    return make_envelope(
        producer="cases",
        type="case_opened",
        case_id=case_id,
        case_version=1,
        data={"case": {"id": case_id, "reference": "CASE-2030-000042", "title": title, "priority": priority}},
    )


def deliver(container: Any, entrypoint: str, source: str, envelope: dict[str, Any]) -> None:
    """Publish ``envelope`` as ``source`` would and wait until the handler has finished."""
    with entrypoint_waiter(container, entrypoint, timeout=10) as result:
        event_dispatcher(container.config)(source, envelope["type"], envelope)
    result.get()  # re-raises what the handler raised


@pytest.fixture
def routing(start_service: Callable[..., Any]) -> Any:
    return start_service(RoutingService, db="routing")


@pytest.fixture
def notifications(start_service: Callable[..., Any]) -> Any:
    return start_service(NotificationsService, db="notifications")


def test_case_opened_puts_the_case_in_the_default_queue_and_emits_case_queued(routing: Any) -> None:
    db_url = routing.config["DB_URL"]
    call(routing, "add_queue_member", "default", "sup-2", "supervisor", context=SUPERVISOR)
    call(routing, "add_queue_member", "default", "sup-1", "supervisor", context=SUPERVISOR)
    call(routing, "add_queue_member", "default", "agent-9", "agent", context=SUPERVISOR)
    event = case_opened()
    deliver(routing, "handle_case_opened", "cases", event)

    item = call(routing, "get_work_item", event["case_id"])
    assert item["queue"] == "default" and item["status"] == "queued"
    assert (item["priority"], item["case_version"]) == (3, 1)
    assert [i["case_id"] for i in call(routing, "queue_view", "default")] == [event["case_id"]]
    [(payload,)] = sql(db_url, "SELECT payload FROM outbox WHERE type = 'case_queued'")
    assert payload["case_id"] == event["case_id"]
    assert payload["producer"] == "routing"
    assert payload["data"]["queue"] == "default"
    assert payload["data"]["supervisor_ids"] == ["sup-1", "sup-2"]


def test_a_redelivered_case_opened_creates_one_work_item_and_one_event(routing: Any) -> None:
    db_url = routing.config["DB_URL"]
    event = case_opened()
    deliver(routing, "handle_case_opened", "cases", event)
    deliver(routing, "handle_case_opened", "cases", event)
    assert sql(db_url, "SELECT count(*) FROM work_items") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM outbox WHERE type = 'case_queued'") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM routing_decisions") == [(1,)]
    processed = sql(db_url, "SELECT consumer, event_id FROM processed_events")
    assert ("routing.case_opened", event["id"]) in processed
    with pytest.raises(NotFound):
        call(routing, "get_work_item", str(uuid.uuid4()))


def case_queued(supervisors: list[str]) -> dict[str, Any]:
    return make_envelope(
        producer="routing",
        type="case_queued",
        case_id=str(uuid.uuid4()),
        case_version=1,
        data={
            "queue": "default",
            "reference": "CASE-2030-000007",
            "title": "Noisy neighbour",
            "priority": "normal",
            "supervisor_ids": supervisors,
        },
    )


def test_case_queued_notifies_each_supervisor_once(notifications: Any) -> None:
    db_url = notifications.config["DB_URL"]
    event = case_queued(["sup-a", "sup-b"])
    deliver(notifications, "handle_case_queued", "routing", event)
    assert sql(db_url, "SELECT user_id FROM notifications ORDER BY user_id") == [("sup-a",), ("sup-b",)]
    deliver(notifications, "handle_case_queued", "routing", event)
    assert sql(db_url, "SELECT count(*) FROM notifications") == [(2,)], "redelivery notifies nobody again"

    inbox = call(notifications, "inbox", context={"user_id": "sup-a", "roles": "supervisor"})
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert item["case_id"] == event["case_id"]
    assert item["title"] == "CASE-2030-000007 queued in default: Noisy neighbour"
    assert call(notifications, "inbox", context={"user_id": "someone-else", "roles": "agent"}) == {
        "items": [],
        "unread": 0,
    }
    sup_a, sup_b = {"user_id": "sup-a", "roles": "supervisor"}, {"user_id": "sup-b", "roles": "supervisor"}
    marked = call(notifications, "mark_read", [item["id"]], context=sup_b)
    assert marked["marked"] == 0, "nobody marks another user's notification"
    assert call(notifications, "mark_read", [item["id"]], context=sup_a)["marked"] == 1
    assert call(notifications, "inbox", context=sup_a)["unread"] == 0
