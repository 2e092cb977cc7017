"""The webhook dispatcher: consumes every event from the bus, records one delivery per matching
subscription, and POSTs each one, signed, with retries and exponential backoff.

Consuming: a durable quorum queue ``casework.gateway-webhooks`` bound to every producer's events
exchange; a message is acknowledged only after its deliveries are committed (the unique
``(subscription, event)`` pair makes a redelivered event harmless). Sending: due deliveries are
claimed with ``FOR UPDATE SKIP LOCKED`` and leased, so several dispatchers share the work and a
crashed one's claims come back after the lease. A 2xx marks a delivery ``delivered``; anything
else is retried after ``WEBHOOK_BACKOFF * 2^(attempt-1)`` seconds (capped at an hour, jittered)
until ``WEBHOOK_MAX_ATTEMPTS``, then ``failed``. ``POST /webhooks/{id}/deliveries/{d}/redeliver``
puts one back in line.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import kombu
import requests
from kombu.mixins import ConsumerMixin
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from casekit.contracts.events import PRODUCERS
from casekit.db import transaction, utcnow
from gateway.webhooks.models import SIGNATURE_HEADER, Delivery, Subscription, sign

log = logging.getLogger(__name__)

QUEUE = "casework.gateway-webhooks"
LEASE_SECONDS = 60
BATCH = 20
MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class DispatchSettings:
    backoff: float = 10.0
    max_attempts: int = 8
    timeout: float = 5.0
    poll: float = 1.0
    allow_private: bool = True

    @classmethod
    def from_env(cls) -> DispatchSettings:
        development = os.environ.get("CASEWORK_ENV", "development") == "development"
        return cls(
            backoff=float(os.environ.get("WEBHOOK_BACKOFF", cls.backoff)),
            max_attempts=int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", cls.max_attempts)),
            timeout=float(os.environ.get("WEBHOOK_TIMEOUT", cls.timeout)),
            poll=float(os.environ.get("WEBHOOK_POLL", cls.poll)),
            allow_private=os.environ.get("WEBHOOK_ALLOW_PRIVATE", "1" if development else "0") == "1",
        )


def backoff_seconds(settings: DispatchSettings, attempts: int) -> float:
    base = min(MAX_BACKOFF, settings.backoff * (2 ** max(0, attempts - 1)))
    return base * random.uniform(0.8, 1.2)


def record_event(sessions: sessionmaker, envelope: dict[str, Any]) -> int:
    """One delivery per active subscription that wants the event; returns how many were new."""
    event_type, event_id = str(envelope.get("type", "")), str(envelope.get("id", ""))
    if not event_type or not event_id:
        return 0
    made = 0
    with transaction(sessions) as session:
        for sub in session.scalars(select(Subscription).where(Subscription.active.is_(True))):
            if not sub.wants(event_type):
                continue
            try:
                with session.begin_nested():
                    session.add(
                        Delivery(
                            id=str(uuid.uuid4()),
                            subscription_id=sub.id,
                            event_id=event_id,
                            event_type=event_type,
                            payload=envelope,
                            state="pending",
                            attempts=0,
                            next_attempt_at=utcnow(),
                            created_at=utcnow(),
                        )
                    )
                made += 1
            except IntegrityError:
                continue  # the event came again: its delivery exists
    return made


def destination_allowed(url: str, allow_private: bool) -> bool:
    if allow_private:
        return True
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            return False
    return True


class Sender:
    def __init__(self, sessions: sessionmaker, settings: DispatchSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.http = requests.Session()
        self.wake = threading.Event()

    def claim(self) -> list[tuple[Delivery, Subscription]]:
        with transaction(self.sessions) as session:
            rows = session.scalars(
                select(Delivery)
                .where(Delivery.state.in_(("pending", "retrying")), Delivery.next_attempt_at <= utcnow())
                .order_by(Delivery.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in rows:
                row.next_attempt_at = utcnow() + timedelta(seconds=LEASE_SECONDS)
                sub = session.get(Subscription, row.subscription_id)
                if sub is None:
                    row.state, row.last_error = "failed", "the subscription is gone"
                    continue
                claimed.append((row, sub))
            return claimed

    def send(self, delivery: Delivery, sub: Subscription) -> tuple[int | None, str | None]:
        if not sub.active:
            return None, "the subscription is paused"
        if not destination_allowed(sub.url, self.settings.allow_private):
            return None, "the destination address is not allowed"
        body = json.dumps(
            {
                "id": delivery.event_id,
                "type": delivery.event_type,
                "delivery_id": delivery.id,
                "event": delivery.payload,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Casework-Webhooks/1",
            "Casework-Event-Id": delivery.event_id,
            "Casework-Event-Type": delivery.event_type,
            "Casework-Delivery-Id": delivery.id,
            SIGNATURE_HEADER: sign(sub.secret, int(time.time()), body),
        }
        try:
            response = self.http.post(
                sub.url, data=body, headers=headers, timeout=self.settings.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {str(exc)[:300]}"
        return (
            response.status_code,
            None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
        )

    def finish(self, delivery_id: str, status: int | None, error: str | None) -> None:
        with transaction(self.sessions) as session:
            row = session.get(Delivery, delivery_id)
            if row is None:
                return
            row.attempts += 1
            row.last_status, row.last_error = status, error
            if error is None:
                row.state, row.delivered_at = "delivered", utcnow()
            elif row.attempts >= self.settings.max_attempts:
                row.state = "failed"
            else:
                row.state = "retrying"
                row.next_attempt_at = utcnow() + timedelta(
                    seconds=backoff_seconds(self.settings, row.attempts)
                )

    def run_once(self) -> int:
        claimed = self.claim()
        for delivery, sub in claimed:
            status, error = self.send(delivery, sub)
            self.finish(delivery.id, status, error)
        return len(claimed)

    def loop(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                if self.run_once() == BATCH:
                    continue
            except Exception:  # noqa: BLE001 - a database blip: try again on the next tick
                log.warning("webhook sending failed", exc_info=True)
            self.wake.wait(self.settings.poll)
            self.wake.clear()


class EventConsumer(ConsumerMixin):
    def __init__(self, connection: kombu.Connection, sessions: sessionmaker, sender: Sender) -> None:
        self.connection = connection
        self.sessions = sessions
        self.sender = sender
        self.queue = kombu.Queue(
            QUEUE,
            bindings=[
                kombu.binding(kombu.Exchange(f"{producer}.events", "topic", durable=True), routing_key="#")
                for producer in PRODUCERS
            ],
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return [
            consumer_cls(queues=[self.queue], callbacks=[self.on_message], accept=["json"], prefetch_count=50)
        ]

    def on_message(self, body: Any, message: Any) -> None:
        envelope = json.loads(body) if isinstance(body, str | bytes) else body
        try:
            if isinstance(envelope, dict) and record_event(self.sessions, envelope):
                self.sender.wake.set()
        except Exception:  # noqa: BLE001 - leave it on the queue and try again shortly
            log.warning("recording a webhook event failed", exc_info=True)
            time.sleep(1)
            message.requeue()
            return
        message.ack()
