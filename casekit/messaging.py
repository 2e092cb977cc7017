"""Event consumption that neither loses nor loops on a message.

nameko's plain ``event_handler`` acks and drops an event whose handler raises,
and with ``requeue_on_error`` on a classic queue it redelivers forever. Our
handler declares its queue as a quorum queue with a delivery limit and a
dead-letter exchange and requeues on error after a short backoff. RabbitMQ
dead-letters a message once it has been returned more than ``x-delivery-limit``
times, so a poison message is handled at most ``DELIVERY_LIMIT + 1`` times before
it lands in ``casework.dead-letters``. A body that cannot even be decoded goes
there at once (kombu's default would ack and drop it).

A failure of a *dependency* (the database down or restarting, see
``casekit.db.is_unavailable``) is not the message's fault and must not spend its
delivery limit, or an outage would dead-letter every event in flight: the handler
keeps the message (unacknowledged, so it is redelivered if the process dies) and
runs it again with backoff for up to ``TRANSIENT_RETRY_SECONDS``. Meanwhile the
worker slot stays taken, so a consumer whose dependency is down or slow stops
taking new messages (prefetch = max_workers) instead of piling them up in memory.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu import Exchange, Queue
from kombu.exceptions import KombuError
from nameko.events import EventHandler as NamekoEventHandler
from nameko.messaging import QueueConsumer

from casekit.db import is_unavailable
from casekit.faults import crashpoint

log = logging.getLogger(__name__)

DLX_NAME = "casework.dlx"
DLQ_NAME = "casework.dead-letters"
DELIVERY_LIMIT = 5  # redeliveries after the first attempt (RabbitMQ's x-delivery-limit)
TRANSIENT_RETRY_SECONDS = 600.0  # a dependency outage longer than this starts counting deliveries

DEAD_LETTER_EXCHANGE = Exchange(DLX_NAME, type="fanout", durable=True, auto_delete=False)
DEAD_LETTER_QUEUE = Queue(
    DLQ_NAME,
    exchange=DEAD_LETTER_EXCHANGE,
    durable=True,
    auto_delete=False,
    queue_arguments={"x-queue-type": "quorum"},
)

QUEUE_ARGUMENTS = {
    "x-queue-type": "quorum",
    "x-delivery-limit": DELIVERY_LIMIT,
    "x-dead-letter-exchange": DLX_NAME,
}


class DeadLetteringQueueConsumer(QueueConsumer):
    """Rejects an undecodable message to the dead-letter exchange instead of dropping it.

    It also survives an ack or requeue on a connection that just died: nameko 2.14 catches only
    ``amqp``'s ``ConnectionError``, so a socket-level ``BrokenPipeError`` or
    ``ConnectionResetError`` there escapes the worker and kills the whole service container
    (seen when the fault proxy resets broker connections). The broker requeues every unacked
    delivery of a dead connection by itself, so there is nothing left to do but log it.
    """

    def ack_message(self, message: Any) -> None:
        try:
            super().ack_message(message)
        except (OSError, KombuError, AMQPError) as exc:
            log.warning("ack lost with the connection; the broker will redeliver", extra={"error": repr(exc)})

    def requeue_message(self, message: Any) -> None:
        try:
            super().requeue_message(message)
        except (OSError, KombuError, AMQPError) as exc:
            log.warning("requeue lost with the connection; the broker requeues", extra={"error": repr(exc)})

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        log.error(
            "undecodable message; dead-lettering it",
            extra={"error": repr(exc), "content_type": message.content_type},
        )
        message.reject(requeue=False)


class EventHandler(NamekoEventHandler):
    """``SERVICE_POOL`` handler on a durable quorum queue with dead-lettering."""

    queue_consumer = DeadLetteringQueueConsumer()

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("requeue_on_error", True)
        super().__init__(source_service, event_type, **kwargs)

    def setup(self) -> None:
        super().setup()
        original = self.queue
        self.queue = Queue(
            original.name,
            exchange=original.exchange,
            routing_key=original.routing_key,
            durable=True,
            auto_delete=False,
            exclusive=False,
            queue_arguments=dict(QUEUE_ARGUMENTS),
        )
        declare_dead_letter_topology(self.container.config["AMQP_URI"])

    stopping = False

    def stop(self) -> None:
        self.stopping = True
        super().stop()

    def _retry_later(self, message: Any, exc: BaseException) -> bool:
        """Run the message again after a backoff when a dependency is down; False when not."""
        waited = float(getattr(message, "casework_waited", 0.0))
        if self.stopping or not is_unavailable(exc) or waited >= TRANSIENT_RETRY_SECONDS:
            return False
        tries = int(getattr(message, "casework_tries", 0))
        delay = min(0.5 * (2**tries), 5.0)
        log.warning(
            "dependency unavailable; retrying without spending a delivery",
            extra={"queue": self.queue.name, "retry_in": delay, "error": repr(exc)[:200]},
        )
        eventlet.sleep(delay)  # the worker slot stays taken: back-pressure on the consumer
        message.casework_waited, message.casework_tries = waited + delay, tries + 1
        self.container.spawn_managed_thread(
            partial(self.handle_message, message.payload, message), identifier="transient-retry"
        )
        return True

    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> Any:
        if exc_info is not None and self._retry_later(message, exc_info[1]):
            return result, exc_info  # neither acked nor requeued: the retry owns the message
        if exc_info is None:
            crashpoint("consumer_after_effect_before_ack")
        if exc_info is not None:
            attempts = int((message.headers or {}).get("x-delivery-count", 0) or 0)
            final = attempts >= DELIVERY_LIMIT
            log.warning(
                "event handler failed; dead-lettering" if final else "event handler failed; requeueing",
                extra={"queue": self.queue.name, "attempts": attempts + 1},
            )
            if not final:
                eventlet.sleep(min(0.25 * (2**attempts), 4.0))
        return super().handle_result(message, worker_ctx, result, exc_info)


event_handler = EventHandler.decorator

_declared: set[str] = set()


def declare_dead_letter_topology(amqp_uri: str) -> None:
    if amqp_uri in _declared:
        return
    from kombu import Connection

    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        DEAD_LETTER_QUEUE(channel).declare()
    _declared.add(amqp_uri)
