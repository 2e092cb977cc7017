"""Fault helpers for the test tiers: crash-point runs, gunicorn workers, RSS, poison messages.

Everything here acts only on processes the test's own ``Suite`` started (their pids come from
the suite's pid files) or on a vhost the test created.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

import kombu

from casekit.launcher import Suite, stat_fields


class Supervisor:
    """Restarts ``name`` (without any crash point) whenever it dies, like systemd or k8s would.

    ``crashes`` counts the deaths seen; ``recovery`` holds, per death, the seconds from
    noticing it until the gateway's ``/readyz`` was green again.
    """

    def __init__(self, suite: Suite, name: str, ready_timeout: float = 90.0) -> None:
        self.suite, self.name, self.ready_timeout = suite, name, ready_timeout
        self.crashes = 0
        self.recovery: list[float] = []
        self.running = True
        self.events: list[str] = []
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def dead(self) -> bool:
        proc = self.suite.procs.get(self.name)
        if proc is not None and proc.poll() is not None:
            return True
        return self.suite.pid(self.name) is None

    def watch(self) -> None:
        while self.running:
            try:
                if self.dead():
                    started = time.monotonic()
                    self.crashes += 1
                    self.events.append(f"{self.name} died")
                    self.suite.start([self.name])
                    with contextlib.suppress(TimeoutError, RuntimeError):
                        self.suite.wait_ready(timeout=self.ready_timeout)
                    self.recovery.append(time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - keep watching; the test reads the events
                self.events.append(repr(exc))
            time.sleep(0.1)

    def __enter__(self) -> Supervisor:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running = False
        self.thread.join(timeout=self.ready_timeout + 5)


def restart_with(suite: Suite, name: str, env: dict[str, str]) -> None:
    """Stop ``name`` gracefully and start it again with ``env`` added (e.g. a crash point)."""
    suite.stop([name])
    suite.start([name], extra_env=env)
    suite.wait_ready(timeout=90)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc), e.g. a gunicorn master's workers.

    Only a real process has children worth signalling: 0 or less (no pid known) gives
    none, never the kernel's own threads or init, whose parent id reads as 0.
    """
    if pid <= 0:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise ValueError(f"no VmRSS for {pid}")


def publish_raw(amqp_uri: str, exchange: str, routing_key: str, body: dict | bytes, message_id: str) -> None:
    """Publish one persistent message with confirms, as a misbehaving producer would."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    with kombu.Connection(amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as conn:
        producer = kombu.Producer(conn.channel())
        producer.publish(
            payload,
            exchange=exchange,
            routing_key=routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            retry=True,
        )


def take_dead_letters(amqp_uri: str, message_id: str, limit: int = 1000) -> int:
    """Remove the dead letters with ``message_id`` (a test's own poison); leave the others."""
    from casekit.messaging import DEAD_LETTER_QUEUE, DLQ_NAME

    taken = 0
    with kombu.Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        DEAD_LETTER_QUEUE(channel).declare()
        others = []
        for _ in range(limit):
            message = channel.basic_get(DLQ_NAME, no_ack=False)
            if message is None:
                break
            if message.properties.get("message_id") == message_id:
                channel.basic_ack(message.delivery_tag)
                taken += 1
            else:
                others.append(message.delivery_tag)
        for tag in others:
            channel.basic_reject(tag, requeue=True)
    return taken


def env_flag(name: str, default: str) -> str:
    return os.environ.get(name, default)
