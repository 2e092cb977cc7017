"""A poison event reaches the dead-letter queue after a bounded number of attempts, and the
events behind it are still processed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import amqp
import kombu
import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

import services.routing.service as routing_module
from casekit.contracts.events import check_envelope, make_envelope
from casekit.messaging import DELIVERY_LIMIT, DLQ_NAME, DLX_NAME
from casekit.testing import infra
from services.routing.service import RoutingService
from tests.integration.helpers import call, eventually

pytestmark = pytest.mark.integration

HANDLER_QUEUE = "evt-cases-case_opened--routing.handle_case_opened"
POISON = {"poison": True, "note": "valid JSON, but not an envelope"}


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each delivery of the poison message reached the handler."""
    seen: list[float] = []

    def counting_check(body: Any) -> dict[str, Any]:
        if body == POISON:
            seen.append(time.monotonic())
        return check_envelope(body)

    monkeypatch.setattr(routing_module, "check_envelope", counting_check)
    return seen


def test_the_handler_queue_is_a_quorum_queue_with_a_delivery_limit_and_dead_lettering(
    start_service: Callable[..., Any], rabbit_config: dict[str, Any]
) -> None:
    start_service(RoutingService, db="routing")
    declared = {q["name"]: q for q in infra.queues(rabbit_config["vhost"])}
    handler = declared[HANDLER_QUEUE]
    assert handler["type"] == "quorum" and handler["durable"] is True
    assert handler["arguments"]["x-delivery-limit"] == DELIVERY_LIMIT
    assert handler["arguments"]["x-dead-letter-exchange"] == DLX_NAME
    assert declared[DLQ_NAME]["type"] == "quorum"


def valid_case_opened() -> dict[str, Any]:
    case_id = str(uuid.uuid4())
    return make_envelope(
        producer="cases",
        type="case_opened",
        case_id=case_id,
        case_version=1,
        data={
            "case": {
                "id": case_id,
                "reference": "CASE-2030-000900",
                "title": "after the poison",
                "priority": "low",
            }
        },
    )


def assert_still_processing(routing: Any) -> None:
    """A valid event published now is handled, and its work item exists."""
    valid = valid_case_opened()

    def is_valid(worker_ctx: Any, _result: Any, exc_info: Any) -> bool:
        return exc_info is None and worker_ctx.args[0] == valid

    with entrypoint_waiter(routing, "handle_case_opened", timeout=15, callback=is_valid):
        event_dispatcher(routing.config)("cases", "case_opened", valid)
    assert call(routing, "get_work_item", valid["case_id"])["title"] == "after the poison"


def test_a_poison_message_is_dead_lettered_and_later_events_are_still_processed(
    start_service: Callable[..., Any], attempts: list[float]
) -> None:
    routing = start_service(RoutingService, db="routing")
    started = time.monotonic()
    event_dispatcher(routing.config)("cases", "case_opened", POISON)
    assert_still_processing(routing)

    with kombu.Connection(routing.config["AMQP_URI"], connect_timeout=5) as conn:
        channel = conn.default_channel

        def dead_letter() -> Any:
            return channel.basic_get(DLQ_NAME, no_ack=True)

        # every routing handler of case_opened (work items, SLA clocks) parks its own copy
        parked: dict[str, int] = {}

        def handler_copy_parked() -> bool:
            while (message := dead_letter()) is not None:
                assert json.loads(message.body) == POISON
                death = message.properties["application_headers"]["x-death"][0]
                assert death["reason"] == "delivery_limit", death
                parked[death["queue"]] = parked.get(death["queue"], 0) + 1
            return HANDLER_QUEUE in parked

        eventually(handler_copy_parked, timeout=30.0, interval=0.2)
        elapsed = time.monotonic() - started
        time.sleep(2.0)  # a second copy from the same queue would be parked by now
        handler_copy_parked()
        assert all(count == 1 for count in parked.values()), f"dead-lettered more than once: {parked}"
    assert elapsed < 30.0
    # per handler queue: the first delivery plus at most DELIVERY_LIMIT redeliveries, then the
    # dead-letter queue (every routing handler of case_opened checks the envelope)
    most = (DELIVERY_LIMIT + 1) * len(parked)
    assert 1 <= len(attempts) <= most, f"the handlers saw it {len(attempts)} times"


def test_an_undecodable_body_is_dead_lettered_not_dropped(start_service: Callable[..., Any]) -> None:
    routing = start_service(RoutingService, db="routing")
    garbage = b"\xff{ not JSON at all"
    with kombu.Connection(routing.config["AMQP_URI"], connect_timeout=5) as conn:
        channel = conn.default_channel
        channel.basic_publish(
            amqp.Message(garbage, content_type="application/json", delivery_mode=2),
            "cases.events",
            "case_opened",
        )
        assert_still_processing(routing)
        message = eventually(lambda: channel.basic_get(DLQ_NAME, no_ack=True), timeout=8.0, interval=0.2)
        assert message.body == garbage
