"""Graceful shutdown: on SIGTERM a process finishes its in-flight work, acks nothing unfinished,
and exits by itself (status 0, not killed); what it had not started waits in the broker for the
restarted process. The history checker then finds every case and every effect exactly once."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from casekit.launcher import Suite
from casekit.testing import checker
from casekit.testing.history import burst
from casekit.testing.suite import Client

pytestmark = pytest.mark.e2e


def terminate(suite: Suite, name: str, timeout: float = 60.0) -> tuple[int | None, float]:
    """SIGTERM ``name``; its exit status (None if it had to be killed) and how long it took."""
    proc = suite.procs.get(name)
    started = time.monotonic()
    suite.signal(name, signal.SIGTERM)
    if proc is not None:
        try:
            return proc.wait(timeout=timeout), time.monotonic() - started
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: it did not stop by itself
            suite.kill(name)
            return None, time.monotonic() - started
    while suite.pid(name) and time.monotonic() - started < timeout:
        time.sleep(0.1)
    return (0 if not suite.pid(name) else None), time.monotonic() - started


def sigterm_during_burst(
    suite: Suite, name: str, count: int, threads: int
) -> tuple[checker.Verdict, list, dict]:
    seen: dict = {}

    def fault() -> None:
        seen["status"], seen["stop_s"] = terminate(suite, name)
        suite.start([name])
        suite.wait_ready(timeout=90)
        seen["recovery"] = seen["stop_s"]

    tag = f"sigterm-{name}-{uuid.uuid4().hex[:6]}"
    ops = burst(
        lambda: Client(suite.gateway_url),
        count=count,
        threads=threads,
        tag=tag,
        at_progress=(count // 3, fault),
    )
    verdict = checker.check(suite, ops, fault=f"SIGTERM {name}", tag=tag, recovery_s=seen.get("recovery"))
    return verdict, ops, seen


@pytest.mark.parametrize("name", ["cases", "routing", "relay-cases"])
def test_sigterm_finishes_in_flight_work_and_acks_nothing_unfinished(suite: Suite, name: str) -> None:
    verdict, ops, seen = sigterm_during_burst(suite, name, count=30, threads=6)
    assert seen["status"] == 0, f"{name} did not stop by itself on SIGTERM: {seen}"
    assert verdict.failed == 0 and verdict.unknown == 0, checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)
