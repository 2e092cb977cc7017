"""The gateway: the case folder view under load, and the gateway's overhead per call.

Starts a fresh suite (``running_suite``; ``--url`` measures a running one instead) and reports,
never asserts:

- **folder**: ``--clients`` threads (default 16) read ``GET /api/v1/cases/{id}/folder`` (case,
  parties, documents, assignment, SLA clocks, timeline: five RPCs to three services in parallel,
  within the folder budget) for ``--seconds``; p50/p99 latency, requests/s, parts reported missing.
- **overhead**: one client, sequentially, ``GET /api/v1/case-types/complaint`` (one RPC,
  ``cases.get_case_type``) through the gateway against the same RPC made directly with a nameko
  standalone proxy; the difference of the medians is the gateway's cost per call (HTTP, token
  check and user lookup, rate-limit counters in PostgreSQL, metrics, JSON).
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

from nameko.standalone.rpc import ClusterRpcProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casekit.context import Principal  # noqa: E402
from casekit.testing.suite import Client, running_suite  # noqa: E402

now = time.perf_counter
BENCH_ENV = {"RATE_LIMIT_IP": "1000000/minute", "RATE_LIMIT_USER": "1000000/minute", "GATEWAY_ACCESS_LOG": ""}


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def setup_case(client: Client) -> str:
    case = client.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "title": "Folder benchmark",
            "customer": {"name": "Ann Bench", "email": f"ann.{uuid.uuid4().hex[:8]}@example.org"},
        },
    ).json()
    version = case["version"]
    for i in range(5):
        note = client.post(
            f"/api/v1/cases/{case['id']}/notes",
            json={"body": f"note {i}"},
            headers={"If-Match": f'"{version}"'},
        ).json()
        version = note["case"]["version"]
    for i in range(3):
        client.post(
            f"/api/v1/cases/{case['id']}/documents",
            params={"filename": f"doc{i}.txt"},
            data=f"document {i}".encode(),
            headers={"Content-Type": "application/octet-stream"},
        )
    return str(case["id"])


def folder_load(base: str, token: str, case_id: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = missing = 0
    lock = threading.Lock()
    deadline = now() + seconds

    def worker() -> None:
        nonlocal errors, missing
        import requests

        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        mine: list[float] = []
        bad = gaps = 0
        while now() < deadline:
            started = now()
            response = http.get(f"{base}/api/v1/cases/{case_id}/folder", timeout=30)
            mine.append(now() - started)
            if response.status_code != 200:
                bad += 1
            elif response.json()["missing"]:
                gaps += 1
        with lock:
            latencies.extend(mine)
            errors += bad
            missing += gaps

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = now()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = now() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "errors": errors,
        "with_missing_parts": missing,
    }


def overhead(base: str, token: str, amqp_uri: str, user_id: str, calls: int) -> dict[str, Any]:
    import requests

    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    for _ in range(20):
        http.get(f"{base}/api/v1/case-types/complaint", timeout=30)
    via_gateway = []
    for _ in range(calls):
        started = now()
        http.get(f"{base}/api/v1/case-types/complaint", timeout=30).raise_for_status()
        via_gateway.append(now() - started)
    admin = Principal(user_id=user_id, roles=("admin", "supervisor", "agent"))
    direct = []
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data=admin.context_data(), timeout=30) as proxy:
        for _ in range(20):
            proxy.cases.get_case_type("complaint", None)
        for _ in range(calls):
            started = now()
            proxy.cases.get_case_type("complaint", None)
            direct.append(now() - started)
    g50, d50 = pct(via_gateway, 50) * 1000, pct(direct, 50) * 1000
    return {
        "calls": calls,
        "gateway_p50_ms": g50,
        "gateway_p99_ms": pct(via_gateway, 99) * 1000,
        "direct_p50_ms": d50,
        "direct_p99_ms": pct(direct, 99) * 1000,
        "overhead_p50_ms": g50 - d50,
    }


def run(base: str, amqp_uri: str, args: argparse.Namespace) -> None:
    client = Client(base)
    token = client.http.headers["Authorization"].split()[1]
    user_id = _user_id(token)
    case_id = setup_case(client)
    print(f"folder view, {args.clients} clients, {args.seconds:.0f} s:")
    for key, value in folder_load(base, token, case_id, args.clients, args.seconds).items():
        print(f"  {key:>20}: {value:.1f}" if isinstance(value, float) else f"  {key:>20}: {value}")
    print(f"overhead per call, {args.calls} sequential calls:")
    for key, value in overhead(base, token, amqp_uri, user_id, args.calls).items():
        print(f"  {key:>20}: {value:.2f}" if isinstance(value, float) else f"  {key:>20}: {value}")


def _user_id(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--url", help="a running gateway (make run); with --amqp-uri")
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args()
    if args.url:
        run(args.url, args.amqp_uri, args)
        return
    with running_suite(Path(tempfile.mkdtemp(prefix="bench-gateway-")), extra_env=BENCH_ENV) as suite:
        run(suite.gateway_url, suite.env["AMQP_URI"], args)


if __name__ == "__main__":
    main()
