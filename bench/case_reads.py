"""Case reads and updates: one rich case (20 notes, 5 parties, 10 tasks) read and changed.

By default it starts a fresh suite (``running_suite``) so that figures are reproducible; ``--url``
measures a running suite (``make run``) instead. It reports and never asserts.

- **reads**: ``--read-clients`` threads (default 1 and 16) read the rich case for ``--seconds``:
  ``GET /api/v1/cases/{id}`` (the folder: cases, documents and routing in parallel; every read is
  audited) and, separately, the ``cases.get_case`` RPC on its own (no gateway, no fan-out).
- **updates**: ``--update-clients`` threads each own a case and ``PATCH`` its title with
  ``If-Match`` back to back (a change: lock, version check, audit entry, outbox event, commit).
  Updates/s is successful changes per second of wall time; a 412 would be an error.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casekit.context import Principal  # noqa: E402
from casekit.testing.suite import ADMIN, Client, running_suite  # noqa: E402

now = time.perf_counter


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise SystemExit(f"setup failed: {response.status_code} {response.text}")
    return response.json()


def rich_case(client: Client, notes: int = 20, parties: int = 5, tasks: int = 10) -> dict[str, Any]:
    """Open a case and give it ``notes`` notes, ``parties`` parties (customer included), ``tasks`` tasks."""
    case = ok(
        client.post(
            "/api/v1/cases",
            json={
                "type": "complaint",
                "title": "Benchmark case",
                "customer": {"name": "Ann Bench", "email": f"ann.{uuid.uuid4().hex[:8]}@example.org"},
                "data": {"product": "gas", "amount": 12},
            },
        ),
        201,
    )
    base, version = f"/api/v1/cases/{case['id']}", case["version"]

    def change(path: str, body: dict[str, Any]) -> None:
        nonlocal version
        result = ok(client.post(base + path, json=body, headers={"If-Match": f'"{version}"'}))
        version = result["case"]["version"]

    for i in range(notes):
        change("/notes", {"body": f"Note {i}: " + "the customer called about the bill. " * 8})
    for i in range(parties - 1):
        change(
            "/parties",
            {"role": "third_party", "party": {"name": f"Party {i}", "phone": f"+44 20 7946 00{i:02d}"}},
        )
    for i in range(tasks - len(case["tasks"])):
        change("/tasks", {"title": f"Ad-hoc task {i}", "assignee": "someone"})
    folder = ok(client.get(base))
    assert (len(folder["notes"]), len(folder["parties"]), len(folder["tasks"])) == (notes, parties, tasks)
    return folder


def run_clients(
    clients: int, seconds: float, work: Callable[[int], float | None]
) -> tuple[list[float], int, float]:
    """Each client calls ``work(i)`` until time is up; returns latencies, errors and wall time."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = now() + seconds

    def loop(i: int) -> None:
        mine: list[float] = []
        failed = 0
        while now() < stop_at:
            try:
                took = work(i)
            except Exception:  # noqa: BLE001 - a benchmark counts failures, it does not stop
                took = None
            if took is None:
                failed += 1
            else:
                mine.append(took)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = now()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], now() - started


def line(what: str, clients: int, latencies: list[float], errors: int, wall: float) -> str:
    ms = [x * 1000 for x in latencies]
    latency = f"{pct(ms, 50):.1f} / {pct(ms, 99):.1f}"
    return f"| {what} | {clients} | {len(ms)} | {len(ms) / wall:.1f} | {latency} | {errors} |"


def reads(args: argparse.Namespace, url: str, amqp_uri: str | None, case: dict, clients: int) -> list[str]:
    sessions = [Client(url, args.username, args.password) for _ in range(clients)]

    def http_read(i: int) -> float | None:
        t0 = now()
        r = sessions[i].get(f"/api/v1/cases/{case['id']}")
        return now() - t0 if r.status_code == 200 and not r.json()["missing"] else None

    run_clients(clients, 1.0, http_read)  # warm-up
    rows = [line("GET /cases/{id} (folder)", clients, *run_clients(clients, args.seconds, http_read))]
    if amqp_uri:
        who = Principal(user_id=case["created_by"], roles=("admin",))
        runners = [
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data=who.context_data(), timeout=10)
            for _ in range(clients)
        ]
        proxies = [r.start() for r in runners]

        def rpc_read(i: int) -> float | None:
            t0 = now()
            proxies[i].cases.get_case(case["id"])
            return now() - t0

        rows.append(line("cases.get_case RPC", clients, *run_clients(clients, args.seconds, rpc_read)))
        for r in runners:
            r.stop()
    return rows


def updates(args: argparse.Namespace, url: str, clients: int) -> list[str]:
    sessions = [Client(url, args.username, args.password) for _ in range(clients)]
    owned = [ok(s.post("/api/v1/cases", json={"type": "complaint", "title": "upd"}), 201) for s in sessions]
    versions = [c["version"] for c in owned]

    def update(i: int) -> float | None:
        t0 = now()
        r = sessions[i].request(
            "PATCH",
            f"/api/v1/cases/{owned[i]['id']}",
            json={"title": f"t{versions[i]}"},
            headers={"If-Match": f'"{versions[i]}"'},
        )
        if r.status_code != 200:
            return None
        versions[i] = r.json()["version"]
        return now() - t0

    return [line("PATCH /cases/{id} (update)", clients, *run_clients(clients, args.seconds, update))]


def bench(args: argparse.Namespace, url: str, amqp_uri: str | None) -> None:
    case = rich_case(Client(url, args.username, args.password))
    print(
        f"rich case {case['reference']}: {len(case['notes'])} notes, {len(case['parties'])} parties, "
        f"{len(case['tasks'])} tasks"
    )
    rows = ["| what | clients | operations | per s | p50 / p99 ms | errors |", "|---|---|---|---|---|---|"]
    for clients in args.read_clients:
        rows += reads(args, url, amqp_uri, case, clients)
    for clients in args.update_clients:
        rows += updates(args, url, clients)
    print("\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running suite (default: start a fresh one)")
    p.add_argument("--amqp-uri", help="with --url: the broker, to time the cases.get_case RPC alone")
    p.add_argument("--username", default=ADMIN[0])
    p.add_argument("--password", default=ADMIN[1])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--read-clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16])
    p.add_argument("--update-clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    args = p.parse_args(argv)
    if args.url:
        bench(args, args.url, args.amqp_uri)
        return 0
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp, running_suite(Path(tmp)) as suite:
        bench(args, suite.gateway_url, suite.env["AMQP_URI"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
