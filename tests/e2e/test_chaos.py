"""The long fault tier (``make chaos``): thousands of operations per fault, a soak, a summary table.

Not part of ``make test``. ``CASEWORK_CHAOS_OPERATIONS`` (default 2000) sizes each fault,
``CASEWORK_SOAK_SECONDS`` (default 1800) the soak. Each verdict is appended to
``$CASEWORK_CHAOS_REPORT``; ``bin/chaos`` prints and writes the table: fault, operations,
acknowledged, lost, duplicated, phantoms, consumer effects missing/doubled, recovery and drain.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from casekit.launcher import Suite
from casekit.testing import checker, nemesis
from casekit.testing.history import steady
from casekit.testing.suite import Client
from tests.e2e.test_faults import FAULT_TARGETS, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]
OPERATIONS = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "2000"))
SOAK_SECONDS = float(os.environ.get("CASEWORK_SOAK_SECONDS", "1800"))
SOAK_FAULT_EVERY = float(os.environ.get("CASEWORK_SOAK_FAULT_EVERY", "120"))
RESULTS: list[checker.Verdict] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if RESULTS:
        print("\n\nChaos summary (this module)\n" + checker.table(RESULTS))


@pytest.mark.parametrize("target", [*FAULT_TARGETS, "gateway-worker"])
def test_chaos(suite: Suite, target: str) -> None:
    verdict, ops = run_fault(suite, target, count=OPERATIONS, threads=12)
    RESULTS.append(verdict)
    checker.record(verdict)
    assert verdict.clean, checker.describe(verdict, ops)


def test_soak(suite: Suite) -> None:
    """Steady load for ``SOAK_SECONDS``; every ``SOAK_FAULT_EVERY`` one random process is SIGKILLed
    and restarted (a gunicorn worker, a service, a relay). Then the checker, and memory growth."""
    tag = f"soak-{uuid.uuid4().hex[:6]}"
    stop = threading.Event()
    faults: list[str] = []
    recovery: list[float] = []
    rss_start = {n: nemesis.rss_mb(p) for n, p in suite.status().items() if p}

    def nemesis_loop() -> None:
        rng = random.Random(9)
        while not stop.wait(SOAK_FAULT_EVERY):
            target = rng.choice([*FAULT_TARGETS, "gateway-worker"])
            started = time.monotonic()
            if target == "gateway-worker":
                workers = nemesis.children(suite.pid("gateway") or 0)
                if workers:
                    os.kill(workers[0], 9)
            else:
                suite.kill(target)
                time.sleep(1)
                suite.start([target])
            with contextlib.suppress(TimeoutError, RuntimeError):
                suite.wait_ready(timeout=90)
            faults.append(target)
            recovery.append(time.monotonic() - started)

    thread = threading.Thread(target=nemesis_loop, daemon=True)
    thread.start()
    try:
        ops = steady(lambda: Client(suite.gateway_url), seconds=SOAK_SECONDS, threads=4, tag=tag, pause=0.05)
    finally:
        stop.set()
        thread.join(timeout=120)
    minutes = SOAK_SECONDS / 60
    verdict = checker.check(
        suite,
        ops,
        fault=f"soak {minutes:.0f} min, {len(faults)} kills",
        tag=tag,
        drain_timeout=180,
        recovery_s=max(recovery) if recovery else None,
    )
    RESULTS.append(verdict)
    checker.record(verdict)
    rss_end = {n: nemesis.rss_mb(p) for n, p in suite.status().items() if p and n in rss_start}
    print(f"\nsoak: faults {faults}\nRSS MB start {rss_start}\nRSS MB end {rss_end}")
    assert verdict.clean, checker.describe(verdict, ops)
