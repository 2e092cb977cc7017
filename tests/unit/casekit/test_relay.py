"""The relay's publisher settles a batch from broker confirms (no broker: a scripted fake channel).

The fake replaces ``kombu.Connection`` only; ``Publisher.__init__`` and ``publish`` run for
real, register their callbacks on the fake channel's ``events`` (the same shape as
``amqp.Channel.events``) and are settled by ``drain_events``, one broker frame per call.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from types import SimpleNamespace
from typing import Any

import amqp
import pytest

from casekit import relay
from casekit.relay import Publisher


class FakeChannel:
    def __init__(self) -> None:
        self.events: defaultdict[str, set] = defaultdict(set)
        self.published: list[tuple[amqp.Message, str, str, bool]] = []
        self.confirming = False
        self.declared: list[tuple] = []

    def exchange_declare(self, *args: Any, **kwargs: Any) -> None:
        self.declared.append((args, kwargs))

    def confirm_select(self) -> None:
        self.confirming = True

    def basic_publish(
        self, msg: amqp.Message, exchange: str, routing_key: str, mandatory: bool = False
    ) -> None:
        self.published.append((msg, exchange, routing_key, mandatory))


class FakeRawConnection:
    """Delivers the scripted frames: ("ack"|"nack", tag, multiple) or ("return", tag)."""

    def __init__(self) -> None:
        self.chan = FakeChannel()
        self.frames: deque[tuple] = deque()
        self.drains = 0

    def channel(self) -> FakeChannel:
        return self.chan

    def drain_events(self, timeout: float | None = None) -> None:
        self.drains += 1
        if not self.frames:
            raise TimeoutError("timed out")  # what socket.timeout is
        kind, tag, *rest = self.frames.popleft()
        if kind == "return":
            msg = self.chan.published[tag - 1][0]
            for callback in list(self.chan.events["basic_return"]):
                callback(Exception("NO_ROUTE"), "cases.events", "x", msg)
            return
        for callback in list(self.chan.events[f"basic_{kind}"]):
            callback(tag, rest[0])


class FakeKombuConnection:
    def __init__(self, uri: str, **kwargs: Any) -> None:
        self.uri = uri
        self.connection = FakeRawConnection()

    def connect(self) -> None:
        pass

    def release(self) -> None:
        pass


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch) -> Publisher:
    monkeypatch.setattr(relay.kombu, "Connection", FakeKombuConnection)
    return Publisher("pyamqp://fake//", "cases.events", confirm_timeout=2.0)


def broker(publisher: Publisher) -> FakeRawConnection:
    return publisher.conn.connection


def rows(*ids: int, headers: dict | None = None) -> list[Any]:
    return [
        SimpleNamespace(
            id=i, event_id=f"evt-{i}", type="case_opened", payload={"n": i}, headers=headers, attempts=0
        )
        for i in ids
    ]


def test_channel_is_put_in_confirm_mode_on_a_durable_topic_exchange(publisher: Publisher) -> None:
    chan = broker(publisher).chan
    assert chan.confirming
    ((args, kwargs),) = chan.declared
    assert args[:2] == ("cases.events", "topic")
    assert kwargs["durable"] is True


def test_messages_are_persistent_mandatory_and_routed_by_event_type(publisher: Publisher) -> None:
    broker(publisher).frames.extend([("ack", 1, False)])
    publisher.publish(rows(1, headers={"correlation_id": "c-1", "user_id": None}))

    msg, exchange, routing_key, mandatory = broker(publisher).chan.published[0]
    assert (exchange, routing_key, mandatory) == ("cases.events", "case_opened", True)
    assert msg.properties["delivery_mode"] == 2
    assert msg.properties["message_id"] == "evt-1"
    assert msg.properties["application_headers"] == {"nameko.correlation_id": "c-1"}
    assert json.loads(msg.body) == {"n": 1}


def test_individual_acks_confirm_every_row(publisher: Publisher) -> None:
    broker(publisher).frames.extend([("ack", 2, False), ("ack", 1, False), ("ack", 3, False)])

    result = publisher.publish(rows(10, 11, 12))

    assert result.confirmed == [10, 11, 12]
    assert result.returned == result.failed == []


def test_publish_waits_for_every_confirm_before_returning(publisher: Publisher) -> None:
    raw = broker(publisher)
    raw.frames.extend([("ack", 1, False), ("ack", 2, False), ("ack", 3, False)])

    publisher.publish(rows(1, 2, 3))

    assert raw.drains == 3
    assert not raw.frames


def test_a_nack_fails_only_that_row(publisher: Publisher) -> None:
    broker(publisher).frames.extend([("ack", 1, False), ("nack", 2, False), ("ack", 3, False)])

    result = publisher.publish(rows(1, 2, 3))

    assert result.confirmed == [1, 3]
    assert result.failed == [2]


def test_multiple_ack_confirms_every_tag_up_to_it(publisher: Publisher) -> None:
    raw = broker(publisher)
    raw.frames.append(("ack", 4, True))

    result = publisher.publish(rows(1, 2, 3, 4))

    assert result.confirmed == [1, 2, 3, 4]
    assert raw.drains == 1


def test_multiple_ack_does_not_override_an_earlier_nack(publisher: Publisher) -> None:
    broker(publisher).frames.extend([("nack", 2, False), ("ack", 3, True)])

    result = publisher.publish(rows(1, 2, 3))

    assert result.confirmed == [1, 3]
    assert result.failed == [2]


def test_multiple_nack_fails_every_unsettled_tag_up_to_it(publisher: Publisher) -> None:
    broker(publisher).frames.extend([("ack", 1, False), ("nack", 3, True)])

    result = publisher.publish(rows(1, 2, 3))

    assert result.confirmed == [1]
    assert result.failed == [2, 3]


def test_returned_message_is_classified_as_returned_not_confirmed(publisher: Publisher) -> None:
    # the broker sends basic.return before the basic.ack of an unroutable mandatory message
    broker(publisher).frames.extend([("ack", 1, False), ("return", 2), ("ack", 2, False)])

    result = publisher.publish(rows(1, 2))

    assert result.confirmed == [1]
    assert result.returned == [2]
    assert result.failed == []


def test_tags_continue_across_batches_on_one_channel(publisher: Publisher) -> None:
    raw = broker(publisher)
    raw.frames.append(("ack", 2, True))
    assert publisher.publish(rows(1, 2)).confirmed == [1, 2]

    raw.frames.extend([("return", 3), ("ack", 4, True)])
    second = publisher.publish(rows(3, 4))

    assert second.returned == [3]
    assert second.confirmed == [4]


def test_a_returned_event_id_does_not_leak_into_the_next_batch(publisher: Publisher) -> None:
    raw = broker(publisher)
    raw.frames.extend([("return", 1), ("ack", 1, False)])
    assert publisher.publish(rows(1)).returned == [1]

    # the same event retried later is routable now
    raw.frames.append(("ack", 2, False))
    assert publisher.publish(rows(1)).confirmed == [1]


def test_no_settled_tags_are_kept_once_a_batch_is_returned(publisher: Publisher) -> None:
    raw = broker(publisher)
    for batch in range(3):
        first = batch * 2 + 1
        raw.frames.append(("ack", first + 1, True))
        publisher.publish(rows(first, first + 1))

    # a long-running relay publishes millions of events: state must not grow with them
    assert publisher.acked == set()
    assert publisher.nacked == set()
    assert publisher.returned == set()


def test_missing_confirms_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay.kombu, "Connection", FakeKombuConnection)
    publisher = Publisher("pyamqp://fake//", "cases.events", confirm_timeout=0.05)
    broker(publisher).frames.append(("ack", 1, False))

    with pytest.raises(TimeoutError, match="confirms"):
        publisher.publish(rows(1, 2))
