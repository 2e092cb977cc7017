"""A Jepsen-style history of client operations, for fault tests and the checker.

Each operation records what the client was told: ``ok`` (acknowledged), ``fail``
(definitely refused) or ``info`` (unknown outcome: timeouts and 5xx after every
retry). Retries reuse the operation's Idempotency-Key.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from casekit.testing.suite import Client

RETRYABLE = {502, 503, 504}


@dataclass
class Op:
    key: str
    title: str
    outcome: str = "info"
    case_id: str | None = None
    reference: str | None = None
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    t_invoke: float = 0.0
    t_complete: float = 0.0


def create_case(client: Client, op: Op, deadline: float) -> Op:
    op.t_invoke = time.monotonic()
    backoff = 0.2
    while time.monotonic() < deadline:
        op.attempts += 1
        try:
            response = client.post(
                "/api/v1/cases",
                json={"type": "complaint", "title": op.title},
                headers={"Idempotency-Key": op.key},
                timeout=15,
            )
        except requests.RequestException as exc:
            op.statuses.append(type(exc).__name__)
        else:
            op.statuses.append(response.status_code)
            if response.status_code in (200, 201):
                body = response.json()
                op.outcome, op.case_id, op.reference = "ok", body["id"], body["reference"]
                break
            if response.status_code not in RETRYABLE:
                op.outcome = "fail"
                break
        time.sleep(backoff)
        backoff = min(backoff * 2, 2.0)
    op.t_complete = time.monotonic()
    return op


def burst(
    make_client: Callable[[], Client],
    *,
    count: int,
    threads: int,
    tag: str,
    at_progress: tuple[int, Callable[[], None]] | None = None,
    deadline_s: float = 120.0,
) -> list[Op]:
    """Create ``count`` cases from ``threads`` clients; run the fault when ``at_progress`` ops are done."""
    ops = [Op(key=str(uuid.uuid4()), title=f"{tag} case {i}") for i in range(count)]
    done = 0
    lock = threading.Lock()
    fired = threading.Event()
    local = threading.local()
    deadline = time.monotonic() + deadline_s

    def run(op: Op) -> Op:
        nonlocal done
        if not hasattr(local, "client"):
            local.client = make_client()
        create_case(local.client, op, deadline)
        with lock:
            done += 1
            fire = at_progress is not None and done >= at_progress[0] and not fired.is_set()
            if fire:
                fired.set()
        if fire:
            at_progress[1]()
        return op

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, ops))
