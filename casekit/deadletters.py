"""Inspect and replay the dead-letter queue: ``python -m casekit.deadletters {list,replay,purge,depth}``.

A message lands in ``casework.dead-letters`` when its handler failed on every
allowed delivery, or its body could not be decoded. ``list`` shows each message's
original queue, routing key, reason and a body excerpt without consuming it;
``replay`` publishes messages back to the queue they died in (their consumers are
idempotent, so a replay is safe); ``purge`` drops them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import amqp
import kombu
from kombu import Exchange

from casekit.messaging import DEAD_LETTER_QUEUE, DLQ_NAME


@dataclass
class DeadLetter:
    message_id: str | None
    queue: str | None
    routing_key: str | None
    reason: str | None
    count: int
    body: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue,
            "routing_key": self.routing_key,
            "reason": self.reason,
            "deaths": self.count,
            "body": self.body[:200].decode("utf-8", errors="replace"),
        }


def _describe(message: Any) -> DeadLetter:
    deaths = (message.headers or {}).get("x-death") or [{}]
    first = deaths[0]
    keys = first.get("routing-keys") or [message.delivery_info.get("routing_key")]
    return DeadLetter(
        message_id=message.properties.get("message_id"),
        queue=first.get("queue"),
        routing_key=keys[0] if keys else None,
        reason=first.get("reason"),
        count=int(first.get("count", 1)),
        body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
    )


def _each(conn: kombu.Connection, limit: int) -> list[tuple[Any, DeadLetter]]:
    """Fetch up to ``limit`` messages without acking them (they return to the queue on close)."""
    channel = conn.channel()
    DEAD_LETTER_QUEUE(channel).declare()
    found = []
    for _ in range(limit):
        message = channel.basic_get(DLQ_NAME, no_ack=False)
        if message is None:
            break
        found.append((message, _describe(message)))
    return found


def list_dead_letters(amqp_uri: str, limit: int = 100) -> list[dict[str, Any]]:
    with kombu.Connection(amqp_uri, connect_timeout=5) as conn:
        return [letter.summary() for _, letter in _each(conn, limit)]


def replay(amqp_uri: str, limit: int = 100, queue: str | None = None) -> int:
    """Publish dead letters back to their original queue; return how many were replayed."""
    replayed = 0
    with kombu.Connection(amqp_uri, connect_timeout=5) as conn:
        producer = kombu.Producer(conn.channel(), exchange=Exchange(""))
        for message, letter in _each(conn, limit):
            if letter.queue is None or (queue and letter.queue != queue):
                message.channel.basic_reject(message.delivery_tag, requeue=True)
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
            producer.publish(
                message.body,
                routing_key=letter.queue,
                headers=headers,
                delivery_mode=2,
                content_type=message.properties.get("content_type"),
                content_encoding=message.properties.get("content_encoding"),
                message_id=letter.message_id,
                retry=True,
            )
            message.channel.basic_ack(message.delivery_tag)
            replayed += 1
    return replayed


def dead_letter_depth(amqp_uri: str, timeout: float = 5.0) -> int:
    """How many messages wait in the dead-letter queue (0 when it does not exist yet).

    The alert metric: anything above zero means a handler gave up on a message
    (``casework_dead_letter_depth`` at the gateway's ``/metrics``). A passive declare,
    so it needs no management plugin and creates nothing.
    """
    with kombu.Connection(amqp_uri, connect_timeout=timeout) as conn:
        channel = conn.channel()
        try:
            _, count, _ = channel.queue_declare(DLQ_NAME, passive=True)
        except amqp.exceptions.NotFound:
            return 0
        return int(count)


def purge(amqp_uri: str) -> int:
    with kombu.Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        DEAD_LETTER_QUEUE(channel).declare()
        return int(channel.queue_purge(DLQ_NAME) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m casekit.deadletters", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=["list", "replay", "purge", "depth"])
    parser.add_argument(
        "--amqp-uri", default=os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--queue", help="replay only messages that died in this queue")
    args = parser.parse_args(argv)
    if args.action == "list":
        for letter in list_dead_letters(args.amqp_uri, args.limit):
            print(json.dumps(letter))
    elif args.action == "depth":
        print(dead_letter_depth(args.amqp_uri))
    elif args.action == "replay":
        print(f"replayed {replay(args.amqp_uri, args.limit, args.queue)}")
    else:
        print(f"purged {purge(args.amqp_uri)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
