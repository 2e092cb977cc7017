"""The reports routes in-process with a fake bus: parameters, CSV negotiation, SVG, roles."""

from __future__ import annotations

from tests.unit.gateway.helpers import Gateway


def _gateway() -> Gateway:
    gw = Gateway()
    gw.add_user("sup", ["supervisor"])
    gw.add_user("ag", ["agent"])
    gw.rpc.answers[("reports", "report")] = lambda name, params: {"name": name, "params": params}
    gw.rpc.answers[("reports", "report_csv")] = lambda name, params: "key,completed\r\nupheld,2\r\n"
    gw.rpc.answers[("reports", "report_chart")] = lambda name, params: "<svg>completed</svg>"
    gw.rpc.answers[("reports", "process")] = lambda view, params: {"view": view, "params": params}
    gw.rpc.answers[("reports", "process_csv")] = lambda view, params: "source,target\r\n"
    gw.rpc.answers[("reports", "process_graph")] = lambda params: "<svg>graph</svg>"
    return gw


def test_completed_in_the_last_five_days_is_one_call() -> None:
    gw = _gateway()
    got = gw.client.get("/api/v1/reports/completed?last=5d&queue=q1", headers=gw.auth("sup"))
    assert got.status_code == 200
    assert got.json == {
        "name": "completed",
        "params": {"last": "5d", "queue": "q1", "limit": 20, "level": "stage"},
    }


def test_csv_by_suffix_or_accept_header() -> None:
    gw = _gateway()
    by_suffix = gw.client.get("/api/v1/reports/completed.csv?from=2026-11-01", headers=gw.auth("sup"))
    assert by_suffix.mimetype == "text/csv" and by_suffix.data.startswith(b"key,completed")
    assert gw.rpc.calls[-1][3][0] == "completed" and gw.rpc.calls[-1][3][1]["from"] == "2026-11-01"
    by_accept = gw.client.get("/api/v1/process/variants", headers={**gw.auth("sup"), "Accept": "text/csv"})
    assert by_accept.mimetype == "text/csv" and gw.rpc.calls[-1][2] == "process_csv"


def test_charts_are_svg() -> None:
    gw = _gateway()
    chart = gw.client.get("/api/v1/reports/throughput/chart.svg", headers=gw.auth("sup"))
    assert chart.mimetype == "image/svg+xml" and b"completed" in chart.data
    graph = gw.client.get("/api/v1/process/graph.svg?level=activity", headers=gw.auth("sup"))
    assert graph.mimetype == "image/svg+xml" and gw.rpc.calls[-1][3][0]["level"] == "activity"


def test_agents_may_not_read_reports_and_bad_input_is_422() -> None:
    gw = _gateway()
    assert gw.client.get("/api/v1/reports/opened", headers=gw.auth("ag")).status_code == 403
    assert gw.client.get("/api/v1/reports/opened?limit=0", headers=gw.auth("sup")).status_code == 422
    assert gw.client.get("/api/v1/process/dfg?level=x", headers=gw.auth("sup")).status_code == 422
    assert gw.rpc.calls == []
