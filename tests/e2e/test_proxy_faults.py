"""Faults through the TCP fault proxy and a broker node of our own (chaos tier).

Every process talks to the broker through ``casekit/testing/proxy.py`` (and the notifications
service to PostgreSQL through a second one), on a RabbitMQ node this module starts. Faults:

- all broker connections reset under load (RST), then refused for a few seconds;
- the broker blackholed (half-open: no FIN, no RST) longer than two heartbeats: the processes
  must notice through heartbeats, reconnect after the heal, and lose nothing (T04 b);
- the broker frozen with SIGSTOP, then SIGCONT (T04 a);
- a consumer starved by a slow database: prefetch bounds what it holds, the backlog waits in
  the broker, its memory stays flat;
- SIGTERM while that consumer's workers are slow: they finish, nothing unfinished is acked.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from casekit.launcher import Suite
from casekit.testing import checker, infra, nemesis
from casekit.testing.broker import OwnBroker
from casekit.testing.history import burst
from casekit.testing.proxy import FaultProxy
from casekit.testing.suite import Client, running_suite
from casekit.testing.waiting import eventually
from tests.e2e.conftest import E2E_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

OPERATIONS = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "2000"))
HEARTBEAT = 30  # services/*/config.yml and the relays
NOTIFY_QUEUE = "evt-routing-case_queued--notifications.handle_case_queued"


@dataclass
class Rig:
    suite: Suite
    broker: OwnBroker
    amqp: FaultProxy
    pg: FaultProxy


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    broker = OwnBroker(tmp_path_factory.mktemp("rabbit"))
    broker.start()
    amqp = FaultProxy(f"127.0.0.1:{broker.port}").start()
    pg = FaultProxy(infra.PG_HOSTPORT).start()
    try:
        base = f"pyamqp://guest:guest@{amqp.hostport}"
        with running_suite(
            tmp_path_factory.mktemp("suite"), extra_env=E2E_ENV, broker=(broker.api, base)
        ) as s:
            # the notifications service reaches its database through the second proxy
            s.env["NOTIFICATIONS_DB_URL"] = s.env["NOTIFICATIONS_DB_URL"].replace(
                f"@{infra.PG_HOSTPORT}/", f"@{pg.hostport}/"
            )
            s.stop(["notifications"])
            s.start(["notifications"])
            s.wait_ready(timeout=90)
            yield Rig(s, broker, amqp, pg)
    finally:
        amqp.stop()
        pg.stop()
        broker.stop()
        broker.kill()


def probe(suite: Suite) -> tuple[int | str, float]:
    """A creation during the fault: what it answered and how long it took (must not hang)."""
    client = Client(suite.gateway_url, username="")
    client.http.headers["Authorization"] = PROBE_AUTH.get("value", "")
    started = time.monotonic()
    try:
        status: int | str = client.post(
            "/api/v1/cases",
            json={"type": "complaint", "title": "probe during the fault"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        ).status_code
    except requests.RequestException as exc:
        status = type(exc).__name__
    return status, time.monotonic() - started


PROBE_AUTH: dict[str, str] = {}


def wait_ready(suite: Suite, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(suite.gateway_url + "/readyz", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError("not ready again")


def under_load(
    rig: Rig, name: str, fault: Callable[[dict], None], count: int
) -> tuple[checker.Verdict, list, dict]:
    PROBE_AUTH["value"] = Client(rig.suite.gateway_url).http.headers["Authorization"]
    seen: dict = {}

    def run() -> None:
        started = time.monotonic()
        fault(seen)
        wait_ready(rig.suite)
        seen["recovery"] = time.monotonic() - started

    tag = f"proxy-{name.split()[0]}-{uuid.uuid4().hex[:6]}"
    ops = burst(
        lambda: Client(rig.suite.gateway_url),
        count=count,
        threads=8,
        tag=tag,
        at_progress=(count // 3, run),
        deadline_s=max(600.0, count / 3),
    )
    verdict = checker.check(
        rig.suite, ops, fault=name, tag=tag, drain_timeout=240, recovery_s=seen.get("recovery")
    )
    checker.record(verdict)
    print("\n" + checker.table([verdict]))
    return verdict, ops, seen


def test_broker_connections_reset_under_load(rig: Rig) -> None:
    def fault(seen: dict) -> None:
        seen["reset"] = rig.amqp.reset()["reset"]
        rig.amqp.refuse()
        time.sleep(3)
        rig.amqp.passthrough()

    verdict, ops, seen = under_load(rig, "broker connections reset", fault, OPERATIONS)
    assert seen["reset"] >= 5
    assert verdict.clean, checker.describe(verdict, ops)


def test_a_blackholed_broker_is_noticed_by_heartbeats(rig: Rig) -> None:
    def fault(seen: dict) -> None:
        before = rig.amqp.stats()
        rig.amqp.blackhole()
        seen["probe"] = probe(rig.suite)
        # the consumers find the silent connection dead through missed heartbeats and drop it
        eventually(
            lambda: (
                rig.amqp.stats()["closed_by_client_in_blackhole"] - before["closed_by_client_in_blackhole"]
                >= 5
            ),
            timeout=4 * HEARTBEAT,
            interval=1,
        )
        seen["noticed_s"] = time.monotonic()
        rig.amqp.passthrough()
        seen["accepted_before"] = before["accepted"]

    verdict, ops, seen = under_load(rig, "broker blackholed (half-open)", fault, OPERATIONS // 2)
    status, took = seen["probe"]
    assert status in (503, 504), seen["probe"]  # an answer, not a hang or a 500
    assert took < 35, seen["probe"]
    assert rig.amqp.stats()["accepted"] > seen["accepted_before"]  # they reconnected
    assert verdict.clean, checker.describe(verdict, ops)


def test_a_frozen_broker_sigstop(rig: Rig) -> None:
    def fault(seen: dict) -> None:
        rig.broker.freeze()
        try:
            seen["probe"] = probe(rig.suite)
            time.sleep(max(0.0, 2 * HEARTBEAT + 10 - seen["probe"][1]))
        finally:
            rig.broker.thaw()

    verdict, ops, seen = under_load(rig, "broker frozen (SIGSTOP)", fault, OPERATIONS // 2)
    status, took = seen["probe"]
    assert status in (503, 504), seen["probe"]
    assert took < 35, seen["probe"]
    assert verdict.clean, checker.describe(verdict, ops)


def queue_state(rig: Rig, name: str) -> dict:
    vhost = rig.suite.env["CASEWORK_VHOST"]
    response = requests.get(f"{rig.broker.api}/queues/{vhost}/{name}", auth=infra.RABBIT_AUTH, timeout=10)
    return response.json() if response.ok else {}


def test_a_consumer_starved_by_a_slow_database_stays_bounded(rig: Rig) -> None:
    suite = rig.suite
    pid = suite.pid("notifications")
    assert pid
    start_rss = nemesis.rss_mb(pid)
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            state = queue_state(rig, NOTIFY_QUEUE)
            samples.append(
                (nemesis.rss_mb(pid), state.get("messages_unacknowledged", 0), state.get("messages_ready", 0))
            )
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    rig.pg.latency(100)  # every round trip to its database: +200 ms
    sampler.start()
    tag = f"starved-{uuid.uuid4().hex[:6]}"
    try:
        try:
            ops = burst(
                lambda: Client(suite.gateway_url), count=OPERATIONS // 2, threads=8, tag=tag, deadline_s=900
            )
            eventually(lambda: any(ready > 0 for _, _, ready in samples), timeout=60)  # a backlog built up
        finally:
            rig.pg.passthrough()
        verdict = checker.check(
            suite, ops, fault="consumer starved (slow database)", tag=tag, drain_timeout=600
        )
    finally:  # a sampler left running would read a later test's processes (and fail that test)
        stop.set()
        sampler.join(timeout=5)
    checker.record(verdict)
    peak_rss = max(rss for rss, _, _ in samples)
    peak_unacked = max(unacked for _, unacked, _ in samples)
    peak_ready = max(ready for _, _, ready in samples)
    print(
        f"\nstarved consumer: rss {start_rss:.0f} -> peak {peak_rss:.0f} MB; "
        f"unacked peak {peak_unacked}; backlog peak {peak_ready}"
    )
    assert suite.pid("notifications") == pid  # never crashed, never restarted
    assert peak_unacked <= 10, samples  # prefetch = max_workers: the backlog waits in the broker
    assert peak_rss - start_rss < 60, (start_rss, peak_rss)
    assert verdict.clean, checker.describe(verdict, ops)


def test_sigterm_while_a_dependency_is_slow_finishes_in_flight_work(rig: Rig) -> None:
    suite = rig.suite
    rig.pg.latency(300)
    tag = f"slow-sigterm-{uuid.uuid4().hex[:6]}"
    try:
        ops = burst(lambda: Client(suite.gateway_url), count=60, threads=6, tag=tag)
        eventually(lambda: queue_state(rig, NOTIFY_QUEUE).get("messages_unacknowledged", 0) > 0, timeout=60)
        proc = suite.procs["notifications"]
        started = time.monotonic()
        suite.signal("notifications", signal.SIGTERM)
        status = proc.wait(timeout=120)
        stop_s = time.monotonic() - started
    finally:
        rig.pg.passthrough()
    suite.start(["notifications"])
    wait_ready(suite)
    verdict = checker.check(
        suite, ops, fault="SIGTERM with a slow dependency", tag=tag, drain_timeout=240, recovery_s=stop_s
    )
    checker.record(verdict)
    assert status == 0, f"exit status {status}: killed, not a graceful stop"
    assert verdict.clean, checker.describe(verdict, ops)
