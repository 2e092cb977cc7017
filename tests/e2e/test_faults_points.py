"""Named crash points, a poison message, the caller killed mid-RPC, and the outbox control.

Crash points (``casekit/faults.py``) make a process ``os._exit(137)`` at an exact line: right
after a commit and before the event is published, before the relay marks a confirmed batch
sent, before a consumer acks an effect it committed. A supervisor restarts the process, the
clients retry with the same Idempotency-Key, and the history checker must find every case
exactly once and every consumer effect exactly once. The negative control publishes after
committing (at most once, like a handler that dispatches its own event) and dies in between:
the checker must report the effects it lost.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from casekit import deadletters
from casekit.launcher import Spec, Suite
from casekit.testing import checker, nemesis
from casekit.testing.broken import BROKEN_POINT
from casekit.testing.history import Op, burst, create_case
from casekit.testing.suite import Client
from casekit.testing.waiting import eventually

pytestmark = pytest.mark.e2e

CRASH = "CASEWORK_CRASHPOINT"
AFTER = "CASEWORK_CRASHPOINT_AFTER"

# (process, crash point, passes before the crash)
PR_POINTS = [
    ("cases", "db_after_commit", 5),  # committed with its outbox row, before any publish or reply
    ("relay-cases", "relay_after_confirm_before_mark", 0),  # published and confirmed, not marked sent
    ("routing", "consumer_after_effect_before_ack", 5),  # effect committed, message not acked
]
CHAOS_POINTS = [
    *PR_POINTS,
    ("cases", "cases_after_commit_before_reply", 20),
    ("relay-cases", "relay_after_claim_before_publish", 5),
    ("relay-cases", "relay_after_publish_before_confirm", 5),
    ("relay-routing", "relay_after_confirm_before_mark", 5),
    ("notifications", "consumer_after_effect_before_ack", 10),
]


def run_crashpoint(
    suite: Suite, process: str, point: str, passes: int, count: int, threads: int
) -> tuple[checker.Verdict, list[Op], nemesis.Supervisor]:
    nemesis.restart_with(suite, process, {CRASH: point, AFTER: str(passes)})
    tag = f"cp-{point}-{uuid.uuid4().hex[:6]}"
    with nemesis.Supervisor(suite, process) as supervisor:
        ops = burst(
            lambda: Client(suite.gateway_url),
            count=count,
            threads=threads,
            tag=tag,
            deadline_s=max(150.0, count / 4),
        )
        try:
            eventually(
                lambda: supervisor.crashes >= 1 and len(supervisor.recovery) >= supervisor.crashes,
                timeout=120,
            )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; supervisor: {supervisor.events}; pid {suite.pid(process)}"
            ) from None
    suite.wait_ready(timeout=90)
    recovery = max(supervisor.recovery) if supervisor.recovery else None
    verdict = checker.check(suite, ops, fault=f"crash {process} at {point}", tag=tag, recovery_s=recovery)
    return verdict, ops, supervisor


@pytest.mark.parametrize(("process", "point", "passes"), PR_POINTS, ids=[p[1] for p in PR_POINTS])
def test_a_crash_at_a_named_point_loses_and_doubles_nothing(
    suite: Suite, process: str, point: str, passes: int
) -> None:
    verdict, ops, supervisor = run_crashpoint(suite, process, point, passes, count=30, threads=5)
    assert supervisor.crashes >= 1, f"the crash point was never reached: {supervisor.events}"
    assert verdict.failed == 0 and verdict.unknown == 0, checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)


@pytest.mark.chaos
@pytest.mark.parametrize(
    ("process", "point", "passes"), CHAOS_POINTS, ids=[f"{p[0]}-{p[1]}" for p in CHAOS_POINTS]
)
def test_chaos_crash_points(suite: Suite, process: str, point: str, passes: int) -> None:
    count = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "2000")) // 2
    verdict, ops, supervisor = run_crashpoint(suite, process, point, passes, count=count, threads=10)
    checker.record(verdict)
    assert supervisor.crashes >= 1
    assert verdict.clean, checker.describe(verdict, ops)


def test_the_checker_catches_publishing_after_commit(suite: Suite) -> None:
    """Negative control: a relay that commits 'sent' and then publishes, dying in between."""
    real = suite.specs["relay-cases"]
    suite.specs["relay-cases"] = Spec(
        "relay-cases", [suite.python, "-m", "casekit.testing.broken", "relay", "--service", "cases"]
    )
    try:
        nemesis.restart_with(suite, "relay-cases", {CRASH: BROKEN_POINT, AFTER: "0"})
    finally:
        suite.specs["relay-cases"] = real  # the supervisor restarts the real relay
    tag = f"control-outbox-{uuid.uuid4().hex[:6]}"
    with nemesis.Supervisor(suite, "relay-cases") as supervisor:
        ops = burst(lambda: Client(suite.gateway_url), count=20, threads=4, tag=tag)
        eventually(lambda: supervisor.crashes >= 1 and supervisor.recovery, timeout=90)
    verdict = checker.check(suite, ops, fault="control: publish after commit", tag=tag, drain_timeout=15)
    assert verdict.acknowledged == 20 and not verdict.lost  # the cases are there ...
    assert verdict.effects["routing"]["missing"] > 0  # ... but their events are gone for good
    assert not verdict.clean


def test_a_poison_event_is_dead_lettered_while_others_keep_flowing(suite: Suite) -> None:
    amqp = suite.env["AMQP_URI"]
    before = deadletters.dead_letter_depth(amqp)
    poison_id = f"poison-{uuid.uuid4()}"
    nemesis.publish_raw(amqp, "cases.events", "case_opened", {"poison": True, "no": "envelope"}, poison_id)
    tag = f"poison-{uuid.uuid4().hex[:6]}"
    ops = burst(lambda: Client(suite.gateway_url), count=30, threads=5, tag=tag)
    verdict = checker.check(suite, ops, fault="poison message", tag=tag)
    assert verdict.clean, checker.describe(verdict, ops)  # the events behind it were handled
    eventually(lambda: deadletters.dead_letter_depth(amqp) > before, timeout=90)  # the alert metric rises

    def poison_letters() -> list[dict]:
        return [x for x in deadletters.list_dead_letters(amqp, limit=1000) if x["message_id"] == poison_id]

    # every subscriber of case_opened gave up on it after its bounded retries; routing among them
    eventually(
        lambda: any("--routing." in (x["queue"] or "") for x in poison_letters()), timeout=90, interval=1
    )
    letters = poison_letters()
    assert {x["reason"] for x in letters} == {"delivery_limit"}, letters
    assert nemesis.take_dead_letters(amqp, poison_id) == len(letters)
    # a slower subscriber's copy may still arrive: take those too; nothing else was dead-lettered
    eventually(
        lambda: (
            nemesis.take_dead_letters(amqp, poison_id) >= 0 and deadletters.dead_letter_depth(amqp) == before
        ),
        timeout=60,
        interval=2,
    )


def token_subject(client: Client) -> str:
    token = client.http.headers["Authorization"].split()[1]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def test_the_caller_killed_mid_rpc(suite: Suite, admin: Client, tmp_path) -> None:  # noqa: ANN001
    """T08: every request that reached the broker runs once; a retry gets the original case."""
    tag = f"caller-{uuid.uuid4().hex[:6]}"
    keys = tmp_path / "keys.jsonl"
    caller = subprocess.Popen(
        [
            suite.python,
            "-m",
            "casekit.testing.caller",
            "--user-id",
            token_subject(admin),
            "--tag",
            tag,
            "--count",
            "30",
            "--keys",
            str(keys),
        ],
        env={**os.environ, **suite.env},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert caller.stdout is not None
    assert caller.stdout.readline().strip() == b"sent"
    os.killpg(caller.pid, signal.SIGKILL)  # while the calls are in flight
    caller.wait(timeout=10)
    caller.stdout.close()
    ops = [Op(key=row["key"], title=row["title"]) for row in map(json.loads, keys.read_text().splitlines())]
    client = Client(suite.gateway_url)
    for op in ops:  # the user retries every call with the same key, through the gateway
        create_case(client, op, deadline=time.monotonic() + 120)
    verdict = checker.check(suite, ops, fault="caller killed mid-RPC", tag=tag)
    assert verdict.acknowledged == len(ops), checker.describe(verdict, ops)
    assert verdict.clean, checker.describe(verdict, ops)
