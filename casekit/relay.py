"""The outbox relay: publishes a service's committed events with publisher confirms.

Run one or more per service: ``python -m casekit.relay --service cases``. Rows are
claimed with ``FOR UPDATE SKIP LOCKED`` (never by an id high-water mark, which
skips rows whose transactions commit out of order), published as persistent,
mandatory messages to the producer's nameko events exchange, and marked sent
only after the broker confirms them. A message the broker returns as unroutable
(no queue bound yet) stays pending and is retried with backoff.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import amqp
import kombu
from sqlalchemy import text

from casekit.db import make_engine
from casekit.faults import crashpoint
from casekit.logs import setup_logging
from casekit.outbox import notify_channel

log = logging.getLogger("casekit.relay")

CLAIM_SQL = text(
    """SELECT id, event_id, type, payload, headers, attempts FROM outbox
       WHERE sent_at IS NULL AND next_attempt_at <= now()
       ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"""
)
MARK_SENT_SQL = text("UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY(:ids)")
BACKOFF_SQL = text(
    """UPDATE outbox SET attempts = attempts + 1, last_error = :error,
       next_attempt_at = now() + make_interval(secs => LEAST(60, power(2, attempts)))
       WHERE id = ANY(:ids)"""
)
PRUNE_SQL = text("DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => :secs)")
PRUNE_PROCESSED_SQL = text(
    "DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => :secs)"
)
LAG_SQL = text(
    "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at)) FROM outbox WHERE sent_at IS NULL"
)


@dataclass
class BatchResult:
    confirmed: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class Publisher:
    """A confirm-mode channel that publishes a batch and waits for all its confirms."""

    def __init__(
        self, amqp_uri: str, exchange: str, confirm_timeout: float = 10.0, heartbeat: int = 30
    ) -> None:
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self.conn = kombu.Connection(amqp_uri, heartbeat=heartbeat, connect_timeout=5)
        self.conn.connect()
        raw = self.conn.connection
        self.channel = raw.channel()
        self.channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self.next_tag = 1
        self.outstanding: set[int] = set()
        self.acked: set[int] = set()
        self.nacked: set[int] = set()
        self.returned: set[str] = set()

    def _settle(self, target: set[int], tag: int, multiple: bool) -> None:
        settled = {t for t in self.outstanding if t <= tag} if multiple else {tag} & self.outstanding
        self.outstanding -= settled
        target.update(settled)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(self.acked, tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._settle(self.nacked, tag, multiple)

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        self.returned.add(message.properties.get("message_id", ""))

    def publish(self, rows: list[Any]) -> BatchResult:
        tags: dict[int, Any] = {}
        for row in rows:
            headers = {f"nameko.{k}": v for k, v in (row.headers or {}).items() if v is not None}
            msg = amqp.Message(
                json.dumps(row.payload),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=row.event_id,
                application_headers=headers,
            )
            self.channel.basic_publish(msg, self.exchange, row.type, mandatory=True)
            tags[self.next_tag] = row
            self.outstanding.add(self.next_tag)
            self.next_tag += 1
        crashpoint("relay_after_publish_before_confirm")
        deadline = time.monotonic() + self.confirm_timeout
        raw = self.conn.connection
        while self.outstanding:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("publisher confirms did not arrive in time")
            try:
                raw.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        result = BatchResult()
        for tag, row in tags.items():
            if tag in self.nacked:
                result.failed.append(row.id)
            elif row.event_id in self.returned:
                result.returned.append(row.id)
            else:
                result.confirmed.append(row.id)
            self.acked.discard(tag)
            self.nacked.discard(tag)
            self.returned.discard(row.event_id)
        return result

    def heartbeat(self) -> None:
        """Send our heartbeat when due, and fail if the broker has gone quiet."""
        self.conn.heartbeat_check()

    def socket(self) -> Any:
        return self.conn.connection.sock

    def read_pending(self) -> None:
        """Consume frames already waiting on the socket (heartbeats) without blocking."""
        raw = self.conn.connection
        while True:
            try:
                raw.drain_events(timeout=0)
            except TimeoutError:
                return

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
            log.debug("error closing broker connection", exc_info=True)


class Relay:
    def __init__(
        self,
        service: str,
        db_url: str,
        amqp_uri: str,
        *,
        batch: int = 200,
        poll: float = 1.0,
        heartbeat: int = 30,
    ) -> None:
        self.heartbeat = heartbeat
        self.service = service
        self.db_url = db_url
        self.amqp_uri = amqp_uri
        self.batch = batch
        self.poll = poll
        self.engine = make_engine(db_url, pool_size=2)
        self.publisher: Publisher | None = None
        self.listener: Any = None
        self.running = True
        self.last_prune = 0.0

    def _publisher(self) -> Publisher:
        if self.publisher is None:
            self.publisher = Publisher(self.amqp_uri, f"{self.service}.events", heartbeat=self.heartbeat)
        return self.publisher

    def _listen(self) -> Any:
        if self.listener is None or self.listener.closed:
            # a connection of its own, made like the engine's (so TLS and other URL options hold)
            pooled = self.engine.raw_connection()
            pooled.detach()
            conn = pooled.dbapi_connection
            conn.autocommit = True
            conn.cursor().execute(f"LISTEN {notify_channel(self.service)}")
            self.listener = conn
        return self.listener

    def run_once(self) -> int:
        """Publish one batch; return how many rows were claimed."""
        publisher = self._publisher()
        with self.engine.begin() as tx:
            rows = tx.execute(CLAIM_SQL, {"limit": self.batch}).fetchall()
            if not rows:
                return 0
            crashpoint("relay_after_claim_before_publish")
            result = publisher.publish(rows)
            crashpoint("relay_after_confirm_before_mark")
            if result.confirmed:
                tx.execute(MARK_SENT_SQL, {"ids": result.confirmed})
            if result.returned:
                tx.execute(BACKOFF_SQL, {"ids": result.returned, "error": "unroutable"})
            if result.failed:
                tx.execute(BACKOFF_SQL, {"ids": result.failed, "error": "nacked by broker"})
        if result.returned:
            log.warning("events returned unroutable", extra={"count": len(result.returned)})
        return len(rows)

    def prune(self) -> None:
        with self.engine.begin() as tx:
            tx.execute(PRUNE_SQL, {"secs": 24 * 3600})
            tx.execute(PRUNE_PROCESSED_SQL, {"secs": 7 * 24 * 3600})

    def lag(self) -> tuple[int, float]:
        with self.engine.connect() as conn:
            count, age = conn.execute(LAG_SQL).one()
        return int(count), float(age or 0.0)

    def wait(self) -> None:
        """Sleep until a NOTIFY arrives or ``poll`` passes, servicing broker heartbeats meanwhile.

        An idle relay must read the broker's heartbeats and send its own, or the broker
        (and kombu) declare the connection dead.
        """
        conn = self._listen()
        publisher = self._publisher()
        deadline = time.monotonic() + self.poll
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([conn, publisher.socket()], [], [], min(remaining, 1.0))
            if publisher.socket() in ready:
                publisher.read_pending()
            publisher.heartbeat()
            if conn in ready:
                conn.poll()
                conn.notifies.clear()
                return

    def reset(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        self.publisher = None
        if self.listener is not None:
            try:
                self.listener.close()
            except Exception:  # noqa: BLE001
                log.debug("error closing listener", exc_info=True)
        self.listener = None

    def run_forever(self) -> None:
        backoff = 0.5
        while self.running:
            try:
                claimed = self.run_once()
                if time.monotonic() - self.last_prune > 600:
                    self.prune()
                    self.last_prune = time.monotonic()
                self._publisher().heartbeat()
                backoff = 0.5
                if claimed < self.batch:
                    self.wait()
            except Exception:  # noqa: BLE001 - any broker or database failure: reconnect and retry
                log.exception("relay iteration failed; reconnecting")
                self.reset()
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        self.reset()
        self.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--db-url", default=None, help="default: $<SERVICE>_DB_URL")
    parser.add_argument(
        "--amqp-uri", default=os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)
    setup_logging(f"relay-{args.service}")
    db_url = args.db_url or os.environ[f"{args.service.upper()}_DB_URL"]
    relay = Relay(args.service, db_url, args.amqp_uri, batch=args.batch)

    def stop(*_: Any) -> None:
        relay.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("relay started", extra={"service": args.service})
    relay.run_forever()


if __name__ == "__main__":
    main()
