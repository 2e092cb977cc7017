"""The reports service fed over the broker by a real cases service, and rebuilt from its history.

Both ways must give the same figures: the live read model (events delivered twice) and the one
rebuilt through ``cases.history_page`` (the CLI's ``reports rebuild``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import sessionmaker

from casekit.db import make_engine
from casekit.errors import InvalidInput, NotFound, PermissionDenied
from services.cases.service import CasesService
from services.search.reports import history
from services.search.reports.service import ReportsService
from tests.integration.helpers import call, sql
from tests.integration.test_cases_process import ADMIN, AGENT, CLAIM

pytestmark = pytest.mark.integration
SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor"}
WIDE = {"from": "2000-01-01T00:00:00+00:00"}


@pytest.fixture
def services(start_service: Callable[..., Any]) -> tuple[Any, Any]:
    cases = start_service(CasesService, db="cases")
    call(cases, "load_case_type", CLAIM, context=ADMIN)
    return cases, start_service(ReportsService, db="search")


def _move(cases: Any, case: dict, to: str) -> dict:
    request = {"to": to, "reason": "test"}
    return call(cases, "transition_case", case["id"], case["version"], request, context=ADMIN)


def _history(cases: Any) -> list[dict[str, Any]]:
    """Two claims: one straight through, one with rework, a close, a reopen and a second close."""
    a = call(cases, "create_case", {"type": "claim", "title": "A", "priority": "high"}, context=AGENT)
    a = _move(cases, _move(cases, a, "assessing"), "approval")
    call(cases, "close_case", a["id"], a["version"], {"resolution": "paid", "reason": "ok"}, context=ADMIN)
    b = call(
        cases,
        "create_case",
        {"type": "claim", "title": "B", "priority": "low", "channel": "email"},
        context=AGENT,
    )
    b = _move(cases, _move(cases, _move(cases, b, "assessing"), "received"), "assessing")
    rejected = {"resolution": "rejected", "reason": "no"}
    b = call(cases, "close_case", b["id"], b["version"], rejected, context=ADMIN)
    b = call(cases, "reopen_case", b["id"], b["version"], {"reason": "appeal"}, context=ADMIN)
    call(cases, "close_case", b["id"], b["version"], {"resolution": "paid", "reason": "ok"}, context=ADMIN)
    rows = sql(cases.config["DB_URL"], "SELECT payload FROM outbox ORDER BY id")
    return [payload for (payload,) in rows]


def _figures(reports: Any) -> dict[str, Any]:
    def rows(kind: str, name: str, **params: Any) -> Any:
        got = call(reports, kind, name, {**WIDE, **params}, context=SUPERVISOR)
        return got["rows"], got["totals"]

    return {
        "completed": rows("report", "completed"),
        "reopened": rows("report", "reopened"),
        "channels": rows("report", "channels"),
        "dfg": sorted((r["source"], r["target"], r["frequency"]) for r in rows("process", "dfg")[0]),
        "rework": rows("process", "rework"),
        "variants": sorted((r["key"], r["cases"]) for r in rows("process", "variants")[0]),
    }


def test_live_events_and_the_rebuild_from_history_agree(services: tuple[Any, Any]) -> None:
    cases, reports = services
    events = _history(cases)
    dispatch = event_dispatcher(reports.config)
    for event in [*events, *events]:  # every event delivered twice
        with entrypoint_waiter(reports, "handle_case_event", timeout=10):
            dispatch("cases", event["type"], event)
    live = _figures(reports)
    assert live["completed"][1] == {"completed": 3, "by_resolution": {"paid": 2, "rejected": 1}}
    assert live["reopened"][1] == {"reopened": 1}
    assert {r["key"]: r["opened"] for r in live["channels"][0]} == {"email": 1, "web": 1}
    assert ("assessing", "received", 1) in live["dfg"] and ("(closed)", "assessing", 1) in live["dfg"]
    assert live["rework"][1] == {"cases": 2, "cases_with_rework": 1, "rework_pct": 50.0}
    assert live["variants"] == [
        ("received > assessing > approval > (closed)", 1),
        ("received > assessing > received > assessing > (closed) > assessing > (closed)", 1),
    ]
    status = call(reports, "status", context=ADMIN)
    assert status["rp_events"] == len(events) and status["rp_cases"] == 2

    engine = make_engine(reports.config["DB_URL"], pool_size=1)
    out = io.StringIO()
    try:
        result = history.rebuild(
            sessionmaker(bind=engine), lambda after: call(cases, "history_page", after, 1, context=ADMIN), out
        )
    finally:
        engine.dispose()
    assert result["cases"] == 2 and "100.0%" in out.getvalue() and "2/2 cases" in out.getvalue()
    assert _figures(reports) == live


def test_reports_refuse_agents_unknown_names_and_bad_periods(services: tuple[Any, Any]) -> None:
    _, reports = services
    with pytest.raises(PermissionDenied):
        call(reports, "report", "opened", {}, context=AGENT)
    with pytest.raises(NotFound):
        call(reports, "report", "nope", {}, context=SUPERVISOR)
    with pytest.raises(InvalidInput) as err:
        call(reports, "report", "opened", {"from": "2026-02-01", "to": "2026-01-01"}, context=SUPERVISOR)
    assert err.value.fields[0]["field"] == "from"
    with pytest.raises(InvalidInput):
        call(reports, "report", "opened", {"by": "color"}, context=SUPERVISOR)
    svg = call(reports, "report_chart", "completed", {}, context=SUPERVISOR)
    assert svg.lstrip().startswith("<?xml") and "Cases completed" in svg
    assert "<svg" in call(reports, "process_graph", {}, context=SUPERVISOR)
