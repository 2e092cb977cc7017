"""Claim next and queue views: claims/s and claim p99 with 50 agents; view latency at 100,000 items.

By default it starts a fresh suite (``running_suite``); work items are seeded by SQL straight into
the routing database (what would take an hour through the API), then everything is measured
through the gateway over HTTP. It reports and never asserts.

- **claims**: ``--agents`` users (default 50), members of one queue of ``--claim-items`` items
  (default 20,000), each a thread with its own HTTP session calling ``POST /api/v1/work/next``
  back to back for ``--seconds``. Claims/s = successful claims / wall time; p50/p99 of a claim.
  Afterwards it checks no item was handed out twice.
- **views**: one queue holding ``--view-items`` open items (default 100,000; mixed priorities, a
  third with SLA deadlines): ``GET /api/v1/queues/{q}/items`` first page (50), a page ten cursors
  deep, a filtered page (``priority=high``), and an item's ``explain``; p50/p99 of each over
  ``--view-requests`` requests from 4 clients.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import requests
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casekit.db import make_engine, transaction  # noqa: E402
from casekit.testing.suite import Client, running_suite  # noqa: E402
from gateway.users import create_user  # noqa: E402

now = time.perf_counter
PASSWORD = "casework-bench-password"
SEED = """
INSERT INTO work_items (case_id, queue, reference, title, priority, base_priority, status, case_version,
                        case_type, channel, case_created_at, queued_at, due_at)
SELECT md5(%(tag)s || g)::uuid::text, %(queue)s, 'BEN-' || g, 'bench item ' || g, 1 + g %% 4, 1 + g %% 4,
       'queued', 1, 'complaint', 'web', now() - (g %% 5000) * interval '1 minute', now(),
       CASE WHEN g %% 3 = 0 THEN now() + (g %% 200 - 50) * interval '1 hour' END
FROM generate_series(1, %(n)s) AS g
"""


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def seed(db_url: str, queue: str, n: int) -> float:
    conn = psycopg2.connect(db_url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        started = now()
        with conn, conn.cursor() as cur:
            cur.execute(SEED, {"tag": uuid.uuid4().hex, "queue": queue, "n": n})
            cur.execute("ANALYZE work_items")
        return now() - started
    finally:
        conn.close()


def make_agents(gateway_db: str, admin: Client, url: str, queue: str, count: int) -> list[str]:
    sessions = sessionmaker(bind=make_engine(gateway_db, pool_size=1), expire_on_commit=False)
    tag = uuid.uuid4().hex[:6]
    names = [f"bench-{tag}-{i}" for i in range(count)]
    with transaction(sessions) as session:
        ids = [create_user(session, username=n, password=PASSWORD, roles=["agent"]).id for n in names]
    tokens = []
    for name, user_id in zip(names, ids, strict=True):
        admin.request(
            "PUT", f"/api/v1/queues/{queue}/members/{user_id}", json={"role": "agent"}
        ).raise_for_status()
        admin.request("PUT", f"/api/v1/agents/{user_id}", json={"capacity": 100000}).raise_for_status()
        login = requests.post(
            f"{url}/api/v1/auth/token", json={"username": name, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        tokens.append(login.json()["access_token"])
    return tokens


def claims(args: argparse.Namespace, url: str, admin: Client, env: dict[str, str]) -> list[str]:
    queue = f"bench-claims-{uuid.uuid4().hex[:6]}"
    admin.request("PUT", f"/api/v1/queues/{queue}", json={"title": "bench"}).raise_for_status()
    took = seed(env["ROUTING_DB_URL"], queue, args.claim_items)
    tokens = make_agents(env["GATEWAY_DB_URL"], admin, url, queue, args.agents)
    latencies: list[float] = []
    got: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens) + 1)
    deadline = [0.0]

    def agent(token: str) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        barrier.wait()
        while now() < deadline[0]:
            t0 = now()
            response = http.post(f"{url}/api/v1/work/next", json={"queue": queue}, timeout=30)
            elapsed = now() - t0
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                    got.append(response.json()["case_id"])
                elif response.status_code == 204:
                    return
                else:
                    errors.append(f"{response.status_code} {response.text[:120]}")

    threads = [threading.Thread(target=agent, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    deadline[0] = now() + args.seconds
    start = now()
    barrier.wait()
    for t in threads:
        t.join()
    wall = now() - start
    return [
        f"claims: {args.agents} agents, queue of {args.claim_items} (seeded by SQL in {took:.1f} s),"
        f" {wall:.1f} s",
        f"  claims/s {len(got) / wall:.1f}  claims {len(got)}  errors {len(errors)}"
        f"  doubled {len(got) - len(set(got))}",
        f"  claim p50 {pct(latencies, 50) * 1000:.1f} ms  p99 {pct(latencies, 99) * 1000:.1f} ms",
        *(f"  error: {e}" for e in errors[:5]),
    ]


def timed(http: requests.Session, url: str, params: dict[str, Any], n: int, clients: int) -> list[float]:
    out: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        s = requests.Session()
        s.headers.update(http.headers)
        for _ in range(n // clients):
            t0 = now()
            response = s.get(url, params=params, timeout=30)
            elapsed = now() - t0
            response.raise_for_status()
            with lock:
                out.append(elapsed)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def views(args: argparse.Namespace, url: str, admin: Client, env: dict[str, str]) -> list[str]:
    queue = f"bench-view-{uuid.uuid4().hex[:6]}"
    admin.request("PUT", f"/api/v1/queues/{queue}", json={"title": "bench"}).raise_for_status()
    took = seed(env["ROUTING_DB_URL"], queue, args.view_items)
    base = f"{url}/api/v1/queues/{queue}/items"
    cursor = None
    for _ in range(10):
        page = admin.get(
            f"/api/v1/queues/{queue}/items", params={"limit": 50, **({"cursor": cursor} if cursor else {})}
        )
        cursor = page.json()["next_cursor"]
    some = page.json()["items"][0]["case_id"]
    rows = [f"views: one queue of {args.view_items} open items (seeded by SQL in {took:.1f} s)"]
    for label, target, params in (
        ("first page (50)", base, {"limit": 50}),
        ("page 11 (cursor)", base, {"limit": 50, "cursor": cursor}),
        ("filtered priority=high", base, {"limit": 50, "priority": "high"}),
        ("explain one item", f"{base}/{some}/explain", {}),
    ):
        timed(admin.http, target, params, 8, 4)  # warm-up
        lat = timed(admin.http, target, params, args.view_requests, 4)
        rows.append(
            f"  {label:24s} p50 {pct(lat, 50) * 1000:6.1f} ms"
            f"  p99 {pct(lat, 99) * 1000:6.1f} ms  n={len(lat)}"
        )
    return rows


def bench(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    admin = Client(url)
    rows = claims(args, url, admin, env) + views(args, url, admin, env)
    print("\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--claim-items", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--view-items", type=int, default=100000)
    p.add_argument("--view-requests", type=int, default=200)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp, running_suite(Path(tmp)) as suite:
        bench(args, suite.gateway_url, suite.env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
