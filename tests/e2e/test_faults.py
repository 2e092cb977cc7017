"""Kill one process during a burst of creations, restart it, and check the history.

After the system drains, the checker (casekit.testing.checker) asserts: every
acknowledged case exists exactly once; no case exists that no client asked for;
every consumer's effect exists exactly once (work item, one notification for the
queue's supervisor, one search document at the case's version); no outbox row is
left unsent. A control damages the outcome on purpose and the checker must see it.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable

import pytest

from casekit.launcher import Suite
from casekit.testing import checker, nemesis
from casekit.testing.history import Op, burst
from casekit.testing.suite import Client

pytestmark = pytest.mark.e2e

FAULT_TARGETS = ["cases", "routing", "search", "notifications", "relay-cases", "relay-routing", "gateway"]


def restart(suite: Suite, name: str, timings: dict[str, float], down_for: float = 1.0) -> Callable[[], None]:
    """SIGKILL ``name``, start it again after ``down_for``; record the time until the suite is ready."""

    def fault() -> None:
        started = time.monotonic()
        if name == "gateway-worker":  # the caller dies mid-RPC; gunicorn's master replaces it
            for worker in nemesis.children(suite.pid("gateway") or 0)[:1]:
                os.kill(worker, signal.SIGKILL)
        else:
            suite.kill(name)
            time.sleep(down_for)
            suite.start([name])
        suite.wait_ready(timeout=60)
        timings["recovery"] = time.monotonic() - started

    return fault


def run_fault(suite: Suite, target: str, count: int, threads: int) -> tuple[checker.Verdict, list]:
    tag = f"fault-{target}-{uuid.uuid4().hex[:6]}"
    timings: dict[str, float] = {}
    ops = burst(
        lambda: Client(suite.gateway_url),
        count=count,
        threads=threads,
        tag=tag,
        at_progress=(count // 3, restart(suite, target, timings)),
        deadline_s=max(120.0, count / 4),
    )
    suite.wait_ready(timeout=60)
    return checker.check(suite, ops, fault=target, tag=tag, recovery_s=timings.get("recovery")), ops


@pytest.mark.parametrize("target", FAULT_TARGETS)
def test_a_killed_process_loses_and_doubles_nothing(suite: Suite, admin: Client, target: str) -> None:
    verdict, ops = run_fault(suite, target, count=40, threads=6)
    assert verdict.failed == 0 and verdict.unknown == 0, checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)
    assert verdict.recovery_s is not None
    for op in ops[:10]:
        assert admin.get(f"/api/v1/cases/{op.case_id}/audit/verify").json()["ok"] is True


def test_the_checker_sees_loss_and_missing_effects(suite: Suite, app_sql) -> None:  # noqa: ANN001
    """Negative control: damage a clean outcome on purpose; the checker must report exactly that."""
    tag = f"control-{uuid.uuid4().hex[:6]}"
    ops = burst(lambda: Client(suite.gateway_url), count=6, threads=3, tag=tag)
    assert checker.check(suite, ops, fault="none", tag=tag).clean
    # a client that was told "created" for a case the system never stored ...
    told_ok = Op(key=str(uuid.uuid4()), title=f"{tag} case x", outcome="ok", case_id=str(uuid.uuid4()))
    # ... and consumer effects that went missing
    unrouted, unnotified = ops[1], ops[2]
    app_sql("routing", "DELETE FROM work_items WHERE case_id = %s", (unrouted.case_id,))
    app_sql("notifications", "DELETE FROM notifications WHERE case_id = %s", (unnotified.case_id,))
    verdict = checker.check(suite, [*ops, told_ok], fault="control", tag=tag, drain_timeout=2)
    assert verdict.lost == [told_ok.key]
    assert verdict.effects["routing"]["missing"] == 1
    assert verdict.effects["notifications"]["missing"] == 1
    assert not verdict.clean
