"""The reports read model on real PostgreSQL: known histories, every figure checked by hand.

Every event is applied twice, in a shuffled order, plus a copy of a cases event under another
id (as a rebuild from history would produce): the figures must not move.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from casekit.db import make_engine
from services.search.reports import ingest, mining
from services.search.reports.queries import REPORTS
from services.search.reports.scope import parse_scope
from tests.unit.reports import histories as hx

PERIOD = {"from": hx.T0.isoformat(), "to": hx.END.isoformat()}


@pytest.fixture
def session(make_databases: Callable[..., dict[str, str]]) -> Iterator[Session]:
    engine = make_engine(make_databases("search")["search"], pool_size=2)
    session = sessionmaker(bind=engine)()
    events = hx.build()
    replay = [*events, *events]
    random.Random(3).shuffle(replay)
    copy = {**events[1], "id": "11111111-2222-4333-8444-555555555555"}  # same case version, new id
    for event in [*replay, copy]:
        ingest.apply(session, event)
        session.commit()
    yield session
    session.close()
    engine.dispose()


def report(session: Session, name: str, **params: Any) -> dict[str, Any]:
    r = REPORTS[name]
    return r.fn(session, parse_scope({**PERIOD, **params}, groups=r.groups))


def view(session: Session, name: str, **params: Any) -> dict[str, Any]:
    return mining.VIEWS[name][0](session, parse_scope({**PERIOD, **params}))


def keyed(result: dict[str, Any], *cols: str) -> dict[Any, tuple]:
    return {r["key"]: tuple(r[c] for c in cols) for r in result["rows"]}


def test_dedupe_keeps_one_row_per_event(session: Session) -> None:
    assert ingest.counts(session)["rp_events"] == len(hx.build())
    assert ingest.counts(session)["rp_cases"] == 3


def test_opened_completed_reopened(session: Session) -> None:
    assert keyed(report(session, "opened"), "opened") == {"2026-11-01": (3,)}
    assert keyed(report(session, "opened", by="case_type"), "opened") == {"claim": (1,), "complaint": (2,)}
    done = report(session, "completed")
    assert keyed(done, "completed") == {"rejected": (1,), "upheld": (2,)}
    assert done["totals"]["completed"] == 3
    late = report(session, "completed", **{"from": hx.h(7).isoformat()}, by="day")
    assert late["totals"] == {"completed": 2, "by_resolution": {"upheld": 2}}
    assert report(session, "completed", last="5d")["totals"]["completed"] == 3
    assert report(session, "reopened")["totals"]["reopened"] == 1
    assert report(session, "opened", case_type="claim")["totals"]["opened"] == 1


def test_throughput_backlog_cycle_and_stage_time(session: Session) -> None:
    rows = report(session, "throughput")["rows"]
    assert [(r["key"], r["case_type"], r["completed"]) for r in rows] == [
        ("2026-11-01", "complaint", 2),
        ("2026-11-02", "complaint", 1),
    ]
    backlog = report(session, "backlog")
    assert backlog["rows"] == [
        {
            "key": "q2",
            "open": 1,
            "under_1d": 0,
            "1_to_3d": 1,
            "3_to_7d": 0,
            "7_to_30d": 0,
            "over_30d": 0,
            "median_age_seconds": 154800.0,
        }
    ]
    assert keyed(report(session, "cycle_time"), "cases", "median_seconds", "p90_seconds", "mean_seconds") == {
        "complaint": (2, 75600.0, 107280.0, 75600.0)
    }
    stage = {
        (r["key"], r["stage"]): (r["visits"], r["median_seconds"], r["p90_seconds"])
        for r in report(session, "stage_time")["rows"]
    }
    assert stage == {
        ("claim", "received"): (1, 3600.0, 3600.0),
        ("complaint", "investigating"): (4, 7200.0, 17280.0),
        ("complaint", "received"): (3, 3600.0, 6480.0),
        ("complaint", "resolving"): (1, 7200.0, 7200.0),
    }


def test_sla_workload_channels(session: Session) -> None:
    sla = report(session, "sla")
    assert [
        (r["clock"], r["key"], r["stopped"], r["met"], r["missed"], r["breaches"], r["compliance_pct"])
        for r in sla["rows"]
    ] == [("first_response", "q1", 2, 1, 1, 1, 50.0), ("resolution", "q1", 2, 1, 1, 0, 50.0)]
    assert sla["totals"]["clocks"]["first_response"]["breaches"] == 1
    assert keyed(report(session, "workload"), "open", "assigned", "unassigned", "queued") == {
        "alice": (1, 2, 1, 0),
        "bob": (0, 1, 1, 0),
    }
    assert keyed(report(session, "workload", by="queue"), "open", "assigned", "unassigned", "queued") == {
        "q1": (0, 2, 2, 2),
        "q2": (1, 1, 0, 1),
    }
    assert keyed(report(session, "channels"), "opened", "share_pct") == {
        "email": (2, 66.67),
        "web": (1, 33.33),
    }
    assert report(session, "opened", agent="alice")["totals"]["opened"] == 1  # only C is held now


def test_stages_and_bottlenecks(session: Session) -> None:
    stages = keyed(
        view(session, "stages"),
        "visits",
        "open_visits",
        "rework_visits",
        "median_seconds",
        "p90_seconds",
        "mean_seconds",
    )
    assert stages == {
        "investigating": (4, 1, 2, 7200.0, 17280.0, 10800.0),
        "received": (4, 0, 1, 3600.0, 6120.0, 4500.0),
        "resolving": (1, 0, 0, 7200.0, 7200.0, 7200.0),
    }
    ranked = view(session, "bottlenecks")
    assert [(r["rank"], r["key"], r["total_seconds"], r["share_pct"]) for r in ranked["rows"]] == [
        (1, "investigating", 194400.0, 88.52),
        (2, "received", 18000.0, 8.2),
        (3, "resolving", 7200.0, 3.28),
    ]


def test_directly_follows_graph_of_stages_and_activities(session: Session) -> None:
    edges = {
        (r["source"], r["target"]): (r["frequency"], r["mean_wait_seconds"])
        for r in view(session, "dfg")["rows"]
    }
    assert edges == {
        ("(start)", "received"): (3, 0.0),
        ("received", "investigating"): (4, 4500.0),
        ("investigating", "resolving"): (1, 21600.0),
        ("investigating", "received"): (1, 7200.0),
        ("investigating", "(closed)"): (2, 7200.0),
        ("resolving", "(closed)"): (1, 7200.0),
        ("(closed)", "investigating"): (1, 86400.0),
    }
    acts = {
        (r["source"], r["target"]): (r["frequency"], r["mean_wait_seconds"])
        for r in view(session, "dfg", level="activity")["rows"]
    }
    assert acts == {
        ("(start)", "opened"): (3, 0.0),
        ("opened", "stage investigating"): (3, 4800.0),
        ("stage investigating", "task call"): (1, 3600.0),
        ("task call", "stage resolving"): (1, 18000.0),
        ("stage resolving", "closed"): (1, 7200.0),
        ("stage investigating", "stage received"): (1, 7200.0),
        ("stage received", "stage investigating"): (1, 3600.0),
        ("stage investigating", "closed"): (1, 7200.0),
        ("closed", "reopened"): (1, 86400.0),
        ("reopened", "closed"): (1, 7200.0),
    }


def test_variants_and_rework(session: Session) -> None:
    got = view(session, "variants")
    assert {r["key"]: (r["cases"], r["closed"], r["median_seconds"]) for r in got["rows"]} == {
        hx.VARIANT_A: (1, 1, 36000.0),
        hx.VARIANT_B: (1, 1, 115200.0),
        hx.VARIANT_C: (1, 0, None),
    }
    assert (
        got["totals"]["variants"] == 3 and view(session, "variants", limit=1)["rows"][0]["share_pct"] == 33.33
    )
    rework = view(session, "rework")
    assert {(r["source"], r["target"], r["loops"], r["cases"]) for r in rework["rows"]} == {
        ("investigating", "received", 1, 1),
        ("received", "investigating", 1, 1),
        ("(closed)", "investigating", 1, 1),
    }
    assert rework["totals"] == {"cases": 3, "cases_with_rework": 1, "rework_pct": 33.33}
    assert view(session, "rework", case_type="claim")["totals"]["cases_with_rework"] == 0


def test_the_migrations_go_down_and_up_and_match_the_models(
    make_databases: Callable[..., dict[str, str]],
) -> None:
    from alembic import command

    from casekit.db import alembic_config, migrate
    from services.search.reports.models import metadata
    from services.search.reports.service import MIGRATIONS
    from tests.integration.test_migrations import schema_diff

    url = make_databases("search")["search"]
    command.downgrade(alembic_config(MIGRATIONS, url), "base")
    migrate(MIGRATIONS, url)
    assert schema_diff(url, metadata) == []


def test_the_cli_rebuilds_from_history_pages(
    make_databases: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from types import SimpleNamespace

    from services.search import cli

    url = make_databases("search")["search"]
    monkeypatch.setenv("SEARCH_DB_URL", url)
    case = {
        "id": hx.IDS["C"],
        "reference": "REF-C",
        "type": "claim",
        "priority": "low",
        "channel": "email",
        "team": "t2",
        "status": "open",
        "created_at": hx.h(5).isoformat(),
        "closed_at": None,
        "version": 2,
    }
    events = [
        {
            "type": "case_opened",
            "occurred_at": hx.h(5).isoformat(),
            "case_version": 1,
            "stage": "received",
            "status": "open",
            "resolution": None,
            "task": None,
        },
        {
            "type": "case_transitioned",
            "occurred_at": hx.h(6).isoformat(),
            "case_version": 2,
            "stage": "investigating",
            "status": "open",
            "resolution": None,
            "task": None,
        },
    ]
    asked: list = []

    def history_page(after: str | None, limit: int) -> dict:
        asked.append((after, limit))
        return {"items": [{"case": case, "events": events}], "next": None, "total": 1}

    rpc = SimpleNamespace(cases=SimpleNamespace(history_page=history_page))
    assert cli.reports_command(rpc, "rebuild", 50) == 0
    out = capsys.readouterr()
    assert '"cases": 1' in out.out and "1/1 cases" in out.err and asked == [(None, 50)]
    assert cli.reports_command(rpc, "status", 50) == 0
    assert '"rp_visits": 2' in capsys.readouterr().out
