"""The outbox relay against a real cases database and a vhost of its own.

A committed row is published once, as a persistent message carrying its principal, and
marked sent only after the broker confirms it; nacked and unroutable rows stay pending with
backoff; replicas share the work through ``FOR UPDATE SKIP LOCKED``. Commit order is covered
in ``test_outbox_commit_order.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import eventlet
import pytest
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.outbox import EventWriter
from casekit.relay import Relay
from services.cases.models import outbox
from tests.integration.helpers import Probe, commit_rows, eventually, row_state, sql

pytestmark = pytest.mark.integration


def test_committed_row_is_published_once_with_its_principal_and_marked_sent(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    principal = Principal("u1", ("agent", "supervisor"), ("team-a",), correlation_id="corr-1")
    relay = make_relay()
    with Session(relay.engine) as session:
        envelope = EventWriter("cases", outbox, principal).emit(
            session, "case_opened", {"title": "x"}, case_id=str(uuid.uuid4()), case_version=1
        )
        session.commit()

    assert relay.run_once() == 1
    assert row_state(outbox_db, envelope["id"]) == (True, 1, None, False)
    [msg] = events_probe.drain()
    assert msg.body == envelope
    assert (msg.exchange, msg.routing_key) == ("cases.events", "case_opened")
    assert msg.properties["delivery_mode"] == 2
    assert msg.properties["message_id"] == envelope["id"]
    assert msg.properties["content_type"] == "application/json"
    assert msg.headers == {
        "nameko.user_id": "u1",
        "nameko.roles": "agent,supervisor",
        "nameko.teams": "team-a",
        "nameko.correlation_id": "corr-1",
    }
    assert relay.run_once() == 0
    assert events_probe.drain() == []


def test_a_row_is_marked_sent_only_after_the_broker_confirms_it(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    relay = make_relay()
    [event_id] = commit_rows(outbox_db, 1)
    publisher = relay._publisher()
    publisher.confirm_timeout = 0.5
    publisher.channel.events["basic_ack"].discard(publisher._on_ack)  # the confirm never "arrives"
    with pytest.raises(TimeoutError):
        relay.run_once()
    assert row_state(outbox_db, event_id)[:2] == (False, 0)

    relay.reset()  # what run_forever does after a failed iteration: a fresh connection
    assert relay.run_once() == 1
    assert row_state(outbox_db, event_id)[0] is True
    # at least once: the unconfirmed attempt may have been delivered too, never zero times
    assert {m.body["id"] for m in events_probe.drain()} == {event_id}


def test_the_publisher_forgets_confirms_it_has_settled(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    """Settled delivery tags must not pile up: a multiple ack re-adding every tag ever published
    grows memory and makes each ack cost O(messages published so far)."""
    relay = make_relay(batch=50)
    publisher = relay._publisher()
    leftovers = []
    for _ in range(6):
        commit_rows(outbox_db, 50)
        assert relay.run_once() == 50
        leftovers.append(len(publisher.acked) + len(publisher.nacked))
    assert len(events_probe.drain()) == 300
    assert leftovers == [0] * 6, f"settled tags still tracked after each batch: {leftovers}"


def test_a_row_the_broker_nacks_stays_pending_with_backoff(
    outbox_db: str, make_relay: Callable[..., Relay], own_vhost: tuple[str, str]
) -> None:
    full = Probe(own_vhost[1], "cases.events", queue="full")
    try:
        full.channel.queue_delete("full")
        full.channel.queue_declare(
            "full",
            durable=True,
            auto_delete=False,
            arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
        )
        full.channel.queue_bind("full", "cases.events", "#")
        [event_id] = commit_rows(outbox_db, 1)
        relay = make_relay()
        assert relay.run_once() == 1
        assert row_state(outbox_db, event_id) == (False, 1, "nacked by broker", True)
    finally:
        full.close()


def test_unroutable_row_stays_pending_with_backoff_until_a_queue_is_bound(
    outbox_db: str, make_relay: Callable[..., Relay], own_vhost: tuple[str, str]
) -> None:
    relay = make_relay()
    [event_id] = commit_rows(outbox_db, 1)
    assert relay.run_once() == 1
    assert row_state(outbox_db, event_id) == (False, 1, "unroutable", True)
    assert relay.run_once() == 0, "the row must wait for its backoff"

    late = Probe(own_vhost[1], "cases.events", routing_key="case_opened")
    try:
        eventually(relay.run_once, timeout=5.0, interval=0.1)
        assert row_state(outbox_db, event_id)[:2] == (True, 2)
        assert [m.body["id"] for m in late.drain()] == [event_id]
    finally:
        late.close()


def test_a_second_relay_skips_rows_the_first_has_locked(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    first, second = make_relay(batch=3), make_relay(batch=3)
    events = commit_rows(outbox_db, 6)
    claimed_by_second: list[int] = []
    publisher = first._publisher()
    original = publisher.publish

    def publish_while_locked(rows: list[Any]) -> Any:
        claimed_by_second.append(second.run_once())  # the first relay's rows are locked now
        return original(rows)

    publisher.publish = publish_while_locked  # type: ignore[method-assign]
    assert first.run_once() == 3
    assert claimed_by_second == [3]
    assert sorted(m.body["id"] for m in events_probe.drain()) == sorted(events)
    assert sql(outbox_db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]


def test_two_relays_running_at_once_publish_every_row_exactly_once(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    events = commit_rows(outbox_db, 60)
    relays = [make_relay(batch=4), make_relay(batch=4)]

    def drain(relay: Relay) -> int:
        total = 0
        while claimed := relay.run_once():
            total += claimed
            eventlet.sleep(0)
        return total

    threads = [eventlet.spawn(drain, relay) for relay in relays]
    totals = [t.wait() for t in threads]
    assert sum(totals) == len(events)
    received = [m.body["id"] for m in events_probe.drain()]
    assert sorted(received) == sorted(events)


def test_an_insert_wakes_a_waiting_relay_before_its_poll_interval(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    relay = make_relay(poll=20.0)
    relay._listen()  # LISTEN before the insert, as run_forever does before it waits
    [event_id] = commit_rows(outbox_db, 1)
    started = time.monotonic()
    relay.wait()
    assert time.monotonic() - started < 10.0, "the outbox trigger's NOTIFY did not wake the relay"
    assert relay.run_once() == 1
    assert [m.body["id"] for m in events_probe.drain()] == [event_id]


def test_an_idle_relay_keeps_its_broker_connection_alive(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    # with a 2 s heartbeat, a relay that never reads the socket while idle is declared
    # dead by the broker within ~4-6 s; a healthy one keeps the same connection
    relay = make_relay(poll=1.0, heartbeat=2)
    relay.run_once()
    publisher = relay._publisher()
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        relay.wait()
    assert relay.publisher is publisher
    [event_id] = commit_rows(outbox_db, 1)
    assert relay.run_once() == 1
    assert [m.body["id"] for m in events_probe.drain()] == [event_id]


def test_prune_drops_old_sent_rows_and_old_consumer_records_only(
    outbox_db: str, make_relay: Callable[..., Relay]
) -> None:
    old_sent, recent_sent, old_pending = commit_rows(outbox_db, 3)
    sql(outbox_db, "UPDATE outbox SET sent_at = now() - interval '2 days' WHERE event_id = %s", (old_sent,))
    sql(
        outbox_db, "UPDATE outbox SET sent_at = now() - interval '1 hour' WHERE event_id = %s", (recent_sent,)
    )
    sql(
        outbox_db,
        "UPDATE outbox SET created_at = now() - interval '30 days' WHERE event_id = %s",
        (old_pending,),
    )
    sql(
        outbox_db,
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES "
        "('c', 'old', now() - interval '8 days'), ('c', 'new', now() - interval '6 days')",
    )
    relay = make_relay()
    count, age = relay.lag()
    assert count == 1 and age > 29 * 24 * 3600, "lag counts pending rows and the oldest one's age"
    relay.prune()
    remaining = {e for (e,) in sql(outbox_db, "SELECT event_id FROM outbox")}
    assert remaining == {recent_sent, old_pending}, "a pending row is never pruned, however old"
    assert sql(outbox_db, "SELECT event_id FROM processed_events") == [("new",)]
