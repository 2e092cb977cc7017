"""The dead-letter CLI lists, replays and purges messages without losing any."""

from __future__ import annotations

from collections.abc import Iterator

import kombu
import pytest
from kombu import Queue

from casekit import deadletters
from casekit.messaging import QUEUE_ARGUMENTS, declare_dead_letter_topology
from casekit.testing import infra
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def amqp_uri() -> Iterator[str]:
    with infra.vhost("casework-dlq") as uri:
        declare_dead_letter_topology(uri)
        yield uri


def kill_one(amqp_uri: str, queue_name: str, body: bytes, message_id: str) -> None:
    """Publish ``body`` to a quorum queue with dead-lettering, then reject it so it dead-letters."""
    with kombu.Connection(amqp_uri) as conn:
        channel = conn.channel()
        Queue(queue_name, durable=True, queue_arguments=dict(QUEUE_ARGUMENTS))(channel).declare()
        kombu.Producer(channel).publish(
            body,
            routing_key=queue_name,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=2,
        )
        message = eventually(lambda: channel.basic_get(queue_name, no_ack=False), timeout=5)
        channel.basic_reject(message.delivery_tag, requeue=False)


def queue_depth(amqp_uri: str, name: str) -> int:
    with kombu.Connection(amqp_uri) as conn:
        return conn.channel().queue_declare(name, passive=True).message_count


def test_list_shows_where_a_message_died_without_consuming_it(amqp_uri: str) -> None:
    kill_one(amqp_uri, "evt-test-a", b'{"poison": true}', "m-1")
    letters = eventually(lambda: deadletters.list_dead_letters(amqp_uri), timeout=10)
    assert letters == [
        {
            "message_id": "m-1",
            "queue": "evt-test-a",
            "routing_key": "evt-test-a",
            "reason": "rejected",
            "deaths": 1,
            "body": '{"poison": true}',
        }
    ]
    assert deadletters.list_dead_letters(amqp_uri) == letters  # still there


def test_replay_returns_messages_to_their_queue_and_purge_empties(amqp_uri: str) -> None:
    kill_one(amqp_uri, "evt-test-a", b'{"n": 1}', "m-1")
    kill_one(amqp_uri, "evt-test-b", b'{"n": 2}', "m-2")
    eventually(lambda: len(deadletters.list_dead_letters(amqp_uri)) == 2, timeout=10)
    assert deadletters.replay(amqp_uri, queue="evt-test-b") == 1
    assert eventually(lambda: queue_depth(amqp_uri, "evt-test-b") == 1, timeout=10)
    assert [d["message_id"] for d in deadletters.list_dead_letters(amqp_uri)] == ["m-1"]
    with kombu.Connection(amqp_uri) as conn:
        replayed = conn.channel().basic_get("evt-test-b", no_ack=True)
    assert replayed.body == b'{"n": 2}' and replayed.properties["message_id"] == "m-2"
    assert deadletters.purge(amqp_uri) == 1
    assert deadletters.list_dead_letters(amqp_uri) == []


def test_dead_letter_depth_is_the_alert_metric(amqp_uri: str) -> None:
    with infra.vhost("casework-dlq-empty") as fresh:
        assert deadletters.dead_letter_depth(fresh) == 0  # no queue yet: zero, and nothing created
        assert deadletters.dead_letter_depth(fresh) == 0
    assert deadletters.dead_letter_depth(amqp_uri) == 0
    kill_one(amqp_uri, "evt-test-depth", b'{"poison": 1}', "d-1")
    kill_one(amqp_uri, "evt-test-depth", b'{"poison": 2}', "d-2")
    assert eventually(lambda: deadletters.dead_letter_depth(amqp_uri) == 2, timeout=10)
    deadletters.purge(amqp_uri)
    assert deadletters.dead_letter_depth(amqp_uri) == 0
