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


def in_progress(response: requests.Response) -> bool:
    """409 ``REQUEST_IN_PROGRESS``: the key's first attempt has not finished (or its end was not
    recorded, e.g. the database was down); the IETF draft says retry later with the same key."""
    if response.status_code != 409:
        return False
    try:
        return response.json().get("code") == "REQUEST_IN_PROGRESS"
    except ValueError:
        return False


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
            if response.status_code not in RETRYABLE and not in_progress(response):
                op.outcome = "fail"
                break
        time.sleep(backoff)
        backoff = min(backoff * 2, 2.0)
    op.t_complete = time.monotonic()
    return op


def login(make_client: Callable[[], Client], tries: int = 5) -> Client:
    """A logged-in client; a login that times out on a loaded machine is tried again."""
    for attempt in range(tries):
        try:
            return make_client()
        except (requests.RequestException, ValueError):
            if attempt == tries - 1:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


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
            local.client = login(make_client)
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


def steady(
    make_client: Callable[[], Client],
    *,
    seconds: float,
    threads: int,
    tag: str,
    pause: float = 0.0,
) -> list[Op]:
    """Create cases from ``threads`` clients for ``seconds`` (a soak's load), each op retried
    with its key until acknowledged or, after the end, for at most two more minutes."""
    ops: list[Op] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run(worker: int) -> None:
        client = login(make_client)
        i = 0
        while time.monotonic() < end:
            op = Op(key=str(uuid.uuid4()), title=f"{tag} case {worker}-{i}")
            with lock:
                ops.append(op)
            create_case(client, op, max(end, time.monotonic()) + 120)
            i += 1
            if pause:
                time.sleep(pause)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, range(threads)))
    return ops
