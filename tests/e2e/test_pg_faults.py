"""PostgreSQL crashes under load (T18): requests fail fast with 503 + Retry-After, then recover.

Runs the suite on a PostgreSQL cluster (``casekit/testing/postgres.py``, its own port and data
directory) and a RabbitMQ node this module starts, so the fault never touches the machine's.
``pg_ctl stop -m immediate`` is a crash: clients are cut off, nothing is checkpointed, and
the next start runs crash recovery. Every process must reconnect by itself (no restarts),
every acknowledged case must survive, and the history checker must find nothing lost,
doubled or half-done. Event handlers wait a database outage out without spending their
delivery limit, so nothing lands in the dead-letter queue.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from casekit import deadletters
from casekit.launcher import Suite
from casekit.testing import checker
from casekit.testing.broker import OwnBroker
from casekit.testing.history import burst
from casekit.testing.postgres import OwnPostgres
from casekit.testing.suite import Client, running_suite
from tests.e2e.conftest import E2E_ENV

pytestmark = pytest.mark.e2e

CHAOS_OPERATIONS = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "2000"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def pg_suite(cluster: OwnPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The suite on the cluster above and on a broker node of its own (isolated from the machine's)."""
    broker = OwnBroker(tmp_path_factory.mktemp("rabbit"))
    broker.start()
    try:
        with running_suite(
            tmp_path_factory.mktemp("pgsuite"),
            extra_env=E2E_ENV,
            pg=cluster.hostport,
            broker=(broker.api, f"pyamqp://guest:guest@127.0.0.1:{broker.port}"),
        ) as s:
            yield s
    finally:
        broker.stop()
        broker.kill()


def probe(client: Client) -> tuple[int, dict[str, str], float]:
    """One new creation during the outage: its status, headers and how long the answer took."""
    started = time.monotonic()
    try:
        response = client.post(
            "/api/v1/cases",
            json={"type": "complaint", "title": "probe during the outage"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
    except requests.RequestException as exc:
        return -1, {"error": repr(exc)}, time.monotonic() - started
    return response.status_code, dict(response.headers), time.monotonic() - started


def crash_and_restart(cluster: OwnPostgres, suite: Suite, down_for: float, seen: dict) -> None:
    started = time.monotonic()
    cluster.stop_immediate()
    client = _token_client(suite, seen)  # no login: the token endpoint needs the database too
    time.sleep(1.0)  # let the processes find out
    seen["probe"] = probe(client)
    seen["readyz"] = requests.get(suite.gateway_url + "/readyz", timeout=30).status_code
    time.sleep(max(0.0, down_for - (time.monotonic() - started)))
    cluster.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(suite.gateway_url + "/readyz", timeout=10).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    seen["recovery"] = time.monotonic() - started


def run_pg_fault(cluster: OwnPostgres, suite: Suite, count: int, threads: int, down_for: float):
    admin = Client(suite.gateway_url)
    pids = suite.status()
    seen: dict = {"authorization": admin.http.headers["Authorization"]}
    tag = f"pg-{uuid.uuid4().hex[:6]}"
    ops = burst(
        lambda: _token_client(suite, seen),
        count=count,
        threads=threads,
        tag=tag,
        at_progress=(max(1, count * 2 // 5), lambda: crash_and_restart(cluster, suite, down_for, seen)),
        deadline_s=max(180.0, count / 5),
    )
    verdict = checker.check(
        suite,
        ops,
        fault="postgres immediate stop",
        tag=tag,
        drain_timeout=120,
        recovery_s=seen.get("recovery"),
    )
    return verdict, ops, seen, pids


def _token_client(suite: Suite, seen: dict) -> Client:
    """A client that reuses the admin's token (logging in needs the database, which may be down)."""
    client = Client.__new__(Client)
    client.base, client.http = suite.gateway_url, requests.Session()
    client.http.headers["Authorization"] = seen["authorization"]
    return client


def assert_recovered(cluster: OwnPostgres, suite: Suite, verdict, ops, seen, pids) -> None:  # noqa: ANN001
    status, headers, took = seen["probe"]
    assert status == 503, seen["probe"]  # not a 500, not a hang
    assert int(headers["Retry-After"]) > 0
    assert took < float(E2E_ENV["RPC_TIMEOUT"]) + 5, f"answered after {took:.1f}s: not fast"
    assert seen["readyz"] == 503
    assert verdict.recovery_s is not None
    statuses = {s for op in ops for s in op.statuses}
    assert 500 not in statuses, statuses
    assert verdict.failed == 0 and verdict.unknown == 0, checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)
    assert suite.status() == pids, "a process was restarted: they must reconnect by themselves"
    assert deadletters.dead_letter_depth(suite.env["AMQP_URI"]) == 0
    assert cluster.settings("fsync", "synchronous_commit") == {"fsync": "on", "synchronous_commit": "on"}


def test_postgres_crash_under_load_fails_fast_then_recovers(cluster: OwnPostgres, pg_suite: Suite) -> None:
    verdict, ops, seen, pids = run_pg_fault(cluster, pg_suite, count=60, threads=6, down_for=5)
    print("\n" + checker.table([verdict]))
    assert_recovered(cluster, pg_suite, verdict, ops, seen, pids)


@pytest.mark.chaos
def test_chaos_postgres_crash(cluster: OwnPostgres, pg_suite: Suite) -> None:
    verdict, ops, seen, pids = run_pg_fault(
        cluster, pg_suite, count=CHAOS_OPERATIONS, threads=12, down_for=10
    )
    checker.record(verdict)
    print("\n" + checker.table([verdict]))
    assert_recovered(cluster, pg_suite, verdict, ops, seen, pids)
