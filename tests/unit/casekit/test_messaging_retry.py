"""A handler whose database is down keeps its message and retries it without spending a delivery;
any other failure goes down the normal requeue / dead-letter path."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest
from sqlalchemy import exc as sa_exc

from casekit import messaging
from casekit.messaging import TRANSIENT_RETRY_SECONDS, EventHandler


class FakeContainer:
    def __init__(self) -> None:
        self.spawned: list[Any] = []

    def spawn_managed_thread(self, fn: Any, identifier: str | None = None) -> None:
        self.spawned.append(fn)


class FakeMessage:
    payload = {"id": "e-1"}
    headers: dict[str, Any] = {}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> EventHandler:
    monkeypatch.setattr(messaging.eventlet, "sleep", lambda _s: None)
    entry = EventHandler("cases", "case_opened")
    entry.container = FakeContainer()  # type: ignore[assignment]
    entry.queue = type("Q", (), {"name": "evt-test"})()  # type: ignore[assignment]
    return entry


DOWN = sa_exc.OperationalError("SELECT 1", {}, psycopg2.OperationalError("server closed the connection"))


def test_a_database_outage_is_retried_in_place_without_spending_a_delivery(handler: EventHandler) -> None:
    message = FakeMessage()
    assert handler._retry_later(message, DOWN) is True
    assert len(handler.container.spawned) == 1  # runs again; neither acked nor requeued
    assert message.casework_tries == 1 and message.casework_waited > 0


def test_a_bug_is_not_retried_in_place(handler: EventHandler) -> None:
    assert handler._retry_later(FakeMessage(), KeyError("data")) is False
    assert handler.container.spawned == []


def test_a_long_outage_falls_back_to_counted_deliveries(handler: EventHandler) -> None:
    message = FakeMessage()
    message.casework_waited = TRANSIENT_RETRY_SECONDS  # type: ignore[attr-defined]
    assert handler._retry_later(message, DOWN) is False


def test_a_stopping_service_does_not_hold_messages(handler: EventHandler) -> None:
    handler.stopping = True
    assert handler._retry_later(FakeMessage(), DOWN) is False


class DeadChannelMessage:
    class channel:  # noqa: N801 - shaped like kombu's
        connection = object()  # still looks alive to nameko's check

    def ack(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def requeue(self) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")


def test_an_ack_or_requeue_on_a_dead_connection_does_not_kill_the_container() -> None:
    consumer = messaging.DeadLetteringQueueConsumer()
    consumer.ack_message(DeadChannelMessage())  # logged, not raised
    consumer.requeue_message(DeadChannelMessage())
