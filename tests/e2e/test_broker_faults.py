"""The broker crashes or restarts under load: nothing confirmed is lost, nothing is doubled.

Runs against a RabbitMQ node this test starts (its own ports and data directory), so
the fault never touches the machine's broker. Part of the chaos tier (``make chaos``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from casekit.launcher import Suite
from casekit.testing import checker
from casekit.testing.broker import OwnBroker
from casekit.testing.history import burst
from casekit.testing.suite import Client, running_suite

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]
OPERATIONS = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "2000"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    node = OwnBroker(tmp_path_factory.mktemp("rabbit"))
    node.start()
    try:
        yield node
    finally:
        node.stop()
        node.kill()


@pytest.fixture(scope="module")
def broker_suite(broker: OwnBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    env = {"RPC_TIMEOUT": "4", "GATEWAY_ACCESS_LOG": ""}
    base = f"pyamqp://guest:guest@127.0.0.1:{broker.port}"
    with running_suite(Path(tmp_path_factory.mktemp("suite")), extra_env=env, broker=(broker.api, base)) as s:
        yield s


@pytest.mark.parametrize("mode", ["graceful restart", "hard kill"])
def test_the_broker_going_down_under_load(broker: OwnBroker, broker_suite: Suite, mode: str) -> None:
    timings: dict[str, float] = {}

    def fault() -> None:
        started = time.monotonic()
        broker.stop() if mode == "graceful restart" else broker.kill()
        time.sleep(5)
        broker.start()
        broker_suite.wait_ready(timeout=120)
        timings["recovery"] = time.monotonic() - started

    tag = f"broker-{mode.split()[0]}-{uuid.uuid4().hex[:6]}"
    ops = burst(
        lambda: Client(broker_suite.gateway_url),
        count=OPERATIONS,
        threads=8,
        tag=tag,
        at_progress=(OPERATIONS // 3, fault),
        deadline_s=max(300.0, OPERATIONS / 3),
    )
    verdict = checker.check(
        broker_suite,
        ops,
        fault=f"broker {mode}",
        tag=tag,
        drain_timeout=120,
        recovery_s=timings.get("recovery"),
    )
    checker.record(verdict)
    print("\n" + checker.table([verdict]))
    assert verdict.acknowledged == len(ops), checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)
