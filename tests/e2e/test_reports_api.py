"""Reports over HTTP through the whole suite: random load, then every figure against the cases service.

Random cases (one team of their own, so the figures are this test's alone) are moved through
the complaint stages at random, with rework, closes and reopens; the reports and process views
must then agree with what the cases service says about the same cases, in JSON, CSV and SVG.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casekit.testing.suite import Client
from casekit.testing.waiting import eventually

pytestmark = pytest.mark.e2e
FORWARD = {"received": "investigating", "investigating": "responded"}
RESOLUTIONS = ("upheld", "rejected", "withdrawn")


def _change(admin: Client, case: dict[str, Any], action: str, body: dict[str, Any]) -> dict[str, Any]:
    got = admin.post(
        f"/api/v1/cases/{case['id']}/{action}", json=body, headers={"If-Match": f'"{case["version"]}"'}
    )
    assert got.status_code == 200, got.text
    return got.json()


def _random_load(admin: Client, team: str, rnd: random.Random, n: int = 10) -> tuple[list[dict], Counter]:
    closes: Counter = Counter()
    cases = []
    for i in range(n):
        body = {
            "type": "complaint",
            "title": f"report load {i}",
            "team": team,
            "priority": rnd.choice(["low", "normal", "high"]),
            "channel": rnd.choice(["web", "email"]),
        }
        got = admin.post("/api/v1/cases", json=body)
        assert got.status_code == 201, got.text
        case = got.json()
        for _ in range(rnd.randint(0, 4)):
            if case["status"] == "closed":
                case = _change(admin, case, "reopen", {"reason": "random reopen"})
                closes["(reopened)"] += 1
            elif case["stage"] == "responded" and rnd.random() < 0.3:
                case = _change(admin, case, "transitions", {"to": "investigating", "reason": "rework"})
            elif case["stage"] in FORWARD:
                case = _change(admin, case, "transitions", {"to": FORWARD[case["stage"]], "reason": "load"})
            else:
                resolution = rnd.choice(RESOLUTIONS)
                case = _change(admin, case, "close", {"resolution": resolution, "reason": "done"})
                closes[resolution] += 1
        cases.append(case)
    return cases, closes


def test_reports_agree_with_the_cases_service_after_random_load(admin: Client, supervisor: Client) -> None:
    team = f"rp{uuid.uuid4().hex[:8]}"
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cases, closes = _random_load(admin, team, random.Random(42))
    folders = {}
    for c in cases:
        got = admin.get(f"/api/v1/cases/{c['id']}")
        assert got.status_code == 200, got.text
        folders[c["id"]] = got.json()
    truth = folders  # GET /cases/{id}: the case, with its routing work item
    scope = {"from": start, "team": team}

    def report(name: str, kind: str = "reports", **params: Any) -> dict[str, Any]:
        got = supervisor.get(f"/api/v1/{kind}/{name}", params={**scope, **params})
        assert got.status_code == 200, got.text
        return got.json()

    reopens = closes.pop("(reopened)", 0)
    eventually(lambda: report("completed")["totals"]["completed"] == sum(closes.values()) or None, timeout=30)
    eventually(lambda: report("opened")["totals"]["opened"] == len(cases) or None, timeout=30)
    eventually(
        lambda: (
            sum(r["cases"] for r in report("variants", "process", limit=1000)["rows"]) == len(cases) or None
        )
    )
    eventually(
        lambda: (
            report("backlog")["totals"]["open"] == sum(c["status"] == "open" for c in truth.values()) or None
        ),
        timeout=30,
    )

    assert report("completed")["totals"]["by_resolution"] == dict(closes)
    mix = Counter(c["channel"] for c in truth.values())
    assert {r["key"]: r["opened"] for r in report("channels")["rows"]} == dict(mix)
    by_priority = Counter(c["priority"] for c in truth.values())
    assert {r["key"]: r["opened"] for r in report("opened", by="priority")["rows"]} == dict(by_priority)
    stages_now = Counter(c["stage"] for c in truth.values() if c["status"] == "open")
    assert {r["key"]: r["open"] for r in report("backlog", by="stage")["rows"]} == dict(stages_now)
    process = supervisor.get("/api/v1/process/dfg", params=scope).json()
    starts = [r for r in process["rows"] if r["source"] == "(start)"]
    assert starts == [
        {"source": "(start)", "target": "received", "frequency": len(cases), "mean_wait_seconds": 0.0}
    ]
    assert report("reopened")["totals"]["reopened"] == reopens
    # the routing service's work items: the open cases per queue agree with the backlog by queue
    routed = [
        (f.get("work_item") or {}).get("queue") for k, f in folders.items() if truth[k]["status"] == "open"
    ]
    assert routed and all(routed), routed
    eventually(
        lambda: {r["key"]: r["open"] for r in report("backlog", by="queue")["rows"]} == Counter(routed)
    )

    as_csv = supervisor.get("/api/v1/reports/completed.csv", params=scope)
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert {row["key"]: int(row["completed"]) for row in csv.DictReader(io.StringIO(as_csv.text))} == dict(
        closes
    )
    chart = supervisor.get("/api/v1/reports/completed/chart.svg", params=scope)
    assert chart.headers["Content-Type"].startswith("image/svg+xml") and "Cases completed" in chart.text
    graph = supervisor.get("/api/v1/process/graph.svg", params=scope)
    assert graph.status_code == 200 and "<svg" in graph.text and "received" in graph.text
