"""Event consumption that neither loses nor loops on a message.

nameko's plain ``event_handler`` acks and drops an event whose handler raises,
and with ``requeue_on_error`` on a classic queue it redelivers forever. Our
handler declares its queue as a quorum queue with a delivery limit and a
dead-letter exchange and requeues on error after a short backoff. RabbitMQ
dead-letters a message once it has been returned more than ``x-delivery-limit``
times, so a poison message is handled at most ``DELIVERY_LIMIT + 1`` times before
it lands in ``casework.dead-letters``. A body that cannot even be decoded goes
there at once (kombu's default would ack and drop it).
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from kombu import Exchange, Queue
from nameko.events import EventHandler as NamekoEventHandler
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)

DLX_NAME = "casework.dlx"
DLQ_NAME = "casework.dead-letters"
DELIVERY_LIMIT = 5  # redeliveries after the first attempt (RabbitMQ's x-delivery-limit)

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
    """Rejects an undecodable message to the dead-letter exchange instead of dropping it."""

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

    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> Any:
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
