"""The standard reports, each one SQL statement over the read model.

Periods: ``opened`` and ``channels`` count cases opened in the period; ``completed``, ``reopened``
and ``throughput`` count close/reopen events in the period (a case closed twice counts twice);
``cycle_time`` covers cases whose last close falls in the period; ``stage_time`` the stage stays
that ended in it; ``sla`` the clocks stopped and breaches in it; ``workload`` counts the open
cases held now plus the assignments made in the period; ``backlog`` is the open cases now.
Filters apply to the case's current type, queue, team, assignee, priority and channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.search.reports.models import CLOSED
from services.search.reports.scope import CASE_GROUPS, TIME_GROUPS, Scope, group_expr

ALL_GROUPS = (*TIME_GROUPS, *CASE_GROUPS)
CLOSE_TYPES = "('case_closed', 'case_merged')"
CLOSE_WHERE = f"e.type IN {CLOSE_TYPES} AND (e.type = 'case_closed' OR e.data->>'status' = 'closed')"
AGE_BUCKETS = (
    ("under_1d", 0, 1),
    ("1_to_3d", 1, 3),
    ("3_to_7d", 3, 7),
    ("7_to_30d", 7, 30),
    ("over_30d", 30, None),
)


def _stats(expr: str) -> str:
    return (
        f"round(percentile_cont(0.5) WITHIN GROUP (ORDER BY {expr})::numeric, 3)::float AS median_seconds, "
        f"round(percentile_cont(0.9) WITHIN GROUP (ORDER BY {expr})::numeric, 3)::float AS p90_seconds, "
        f"round(avg({expr})::numeric, 3)::float AS mean_seconds"
    )


def run(session: Session, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in session.execute(text(sql), params)]


def table(columns: list[str], rows: list[dict[str, Any]], **totals: Any) -> dict[str, Any]:
    return {"columns": columns, "rows": rows, "totals": totals}


def opened(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    key = group_expr(scope.by or "day", "c.opened_at")
    rows = run(
        session,
        f"SELECT {key} AS key, count(*) AS opened FROM rp_cases c "
        f"WHERE c.opened_at >= :start AND c.opened_at < :end{scope.case_where(p)} GROUP BY 1 ORDER BY 1",
        p,
    )
    return table(["key", "opened"], rows, opened=sum(r["opened"] for r in rows))


def _event_counts(
    session: Session, scope: Scope, where: str, label: str, default_by: str
) -> list[dict[str, Any]]:
    p: dict[str, Any] = {}
    by = scope.by or default_by
    key = group_expr(by, "e.occurred_at", {"resolution": "e.resolution"})
    return run(
        session,
        f"SELECT {key} AS key, count(*) AS {label} FROM rp_events e JOIN rp_cases c USING (case_id) "
        f"WHERE {where} AND e.occurred_at >= :start AND e.occurred_at < :end{scope.case_where(p)} "
        "GROUP BY 1 ORDER BY 1",
        p,
    )


def completed(session: Session, scope: Scope) -> dict[str, Any]:
    rows = _event_counts(session, scope, CLOSE_WHERE, "completed", "resolution")
    by_resolution = rows
    if scope.by not in (None, "resolution"):
        by_resolution = _event_counts(
            session, Scope(scope.start, scope.end, scope.filters, "resolution"), CLOSE_WHERE, "completed", ""
        )
    return table(
        ["key", "completed"],
        rows,
        completed=sum(r["completed"] for r in rows),
        by_resolution={r["key"]: r["completed"] for r in by_resolution},
    )


def reopened(session: Session, scope: Scope) -> dict[str, Any]:
    rows = _event_counts(session, scope, "e.type = 'case_reopened'", "reopened", "day")
    return table(["key", "reopened"], rows, reopened=sum(r["reopened"] for r in rows))


def throughput(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    key = group_expr(scope.by or "day", "e.occurred_at", {"resolution": "e.resolution"})
    rows = run(
        session,
        f"SELECT {key} AS key, coalesce(c.type, '(none)') AS case_type, count(*) AS completed "
        f"FROM rp_events e JOIN rp_cases c USING (case_id) WHERE {CLOSE_WHERE} "
        f"AND e.occurred_at >= :start AND e.occurred_at < :end{scope.case_where(p)} "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        p,
    )
    return table(["key", "case_type", "completed"], rows, completed=sum(r["completed"] for r in rows))


def backlog(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    key = group_expr(scope.by or "queue", "c.opened_at")
    age = "extract(epoch FROM (:end - c.opened_at))"
    buckets = ", ".join(
        f"count(*) FILTER (WHERE {age} >= {lo * 86400}"
        + (f" AND {age} < {hi * 86400}" if hi else "")
        + f') AS "{name}"'
        for name, lo, hi in AGE_BUCKETS
    )
    where = scope.case_where(p)
    rows = run(
        session,
        f"SELECT {key} AS key, count(*) AS open, {buckets}, "
        f"round(percentile_cont(0.5) WITHIN GROUP (ORDER BY {age})::numeric, 3)::float AS median_age_seconds "
        f"FROM rp_cases c WHERE c.status = 'open' AND c.opened_at < :end{where} GROUP BY 1 ORDER BY 1",
        p,
    )
    columns = ["key", "open", *(b[0] for b in AGE_BUCKETS), "median_age_seconds"]
    return table(columns, rows, open=sum(r["open"] for r in rows))


def cycle_time(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    key = group_expr(scope.by or "case_type", "c.closed_at", {"resolution": "c.resolution"})
    cycle = "extract(epoch FROM (c.closed_at - c.opened_at))"
    rows = run(
        session,
        f"SELECT {key} AS key, count(*) AS cases, {_stats(cycle)} FROM rp_cases c "
        f"WHERE c.status = 'closed' AND c.closed_at >= :start AND c.closed_at < :end{scope.case_where(p)} "
        "GROUP BY 1 ORDER BY 1",
        p,
    )
    return table(["key", "cases", "median_seconds", "p90_seconds", "mean_seconds"], rows)


def stage_time(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {"closed": CLOSED}
    key = group_expr(scope.by or "case_type", "v.left_at")
    stay = "extract(epoch FROM (v.left_at - v.entered_at))"
    rows = run(
        session,
        f"SELECT {key} AS key, v.stage, count(*) AS visits, {_stats(stay)} "
        "FROM rp_visits v JOIN rp_cases c USING (case_id) WHERE v.stage <> :closed AND v.left_at IS NOT NULL "
        f"AND v.left_at >= :start AND v.left_at < :end{scope.case_where(p)} GROUP BY 1, 2 ORDER BY 1, 2",
        p,
    )
    return table(["key", "stage", "visits", "median_seconds", "p90_seconds", "mean_seconds"], rows)


def sla(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    key = group_expr(scope.by or "queue", "e.occurred_at", {"queue": "coalesce(e.queue, c.queue)"})
    stopped = "e.type = 'sla_clock_stopped'"
    rows = run(
        session,
        f"SELECT coalesce(e.clock, '(none)') AS clock, {key} AS key, "
        f"count(*) FILTER (WHERE {stopped}) AS stopped, "
        f"count(*) FILTER (WHERE {stopped} AND e.met) AS met, "
        f"count(*) FILTER (WHERE {stopped} AND e.met IS FALSE) AS missed, "
        "count(*) FILTER (WHERE e.type = 'sla_breached') AS breaches "
        "FROM rp_events e JOIN rp_cases c USING (case_id) "
        "WHERE e.type IN ('sla_clock_stopped', 'sla_breached') "
        f"AND e.occurred_at >= :start AND e.occurred_at < :end{scope.case_where(p)} "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        p,
    )
    for r in rows:
        judged = r["met"] + r["missed"]
        r["compliance_pct"] = round(100.0 * r["met"] / judged, 2) if judged else None
    totals: dict[str, Any] = {}
    for r in rows:
        t = totals.setdefault(r["clock"], {"stopped": 0, "met": 0, "missed": 0, "breaches": 0})
        for k in t:
            t[k] += r[k]
    for t in totals.values():
        judged = t["met"] + t["missed"]
        t["compliance_pct"] = round(100.0 * t["met"] / judged, 2) if judged else None
    return table(
        ["clock", "key", "stopped", "met", "missed", "breaches", "compliance_pct"], rows, clocks=totals
    )


def workload(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    by = scope.by or "agent"
    where = scope.case_where(p)
    held = "c.assignee" if by == "agent" else "c.queue"
    moved = "e.assignee" if by == "agent" else "e.queue"
    period = f"e.occurred_at >= :start AND e.occurred_at < :end{where}"
    rows = run(
        session,
        "SELECT coalesce(key, '(none)') AS key, sum(open)::int AS open, sum(assigned)::int AS assigned, "
        "sum(unassigned)::int AS unassigned, sum(queued)::int AS queued FROM ("
        f"  SELECT {held} AS key, 1 AS open, 0 AS assigned, 0 AS unassigned, 0 AS queued FROM rp_cases c "
        f"  WHERE c.status = 'open' AND {held} IS NOT NULL{where}"
        f"  UNION ALL SELECT {moved}, 0, (e.type = 'case_assigned')::int, (e.type = 'case_unassigned')::int, "
        "  (e.type = 'case_queued')::int FROM rp_events e JOIN rp_cases c USING (case_id) "
        f"  WHERE e.type IN ('case_assigned', 'case_unassigned', 'case_queued') AND {moved} IS NOT NULL "
        f"  AND {period}) w GROUP BY 1 ORDER BY 1",
        p,
    )
    return table(["key", "open", "assigned", "unassigned", "queued"], rows)


def channels(session: Session, scope: Scope) -> dict[str, Any]:
    p: dict[str, Any] = {}
    rows = run(
        session,
        "SELECT coalesce(c.channel, '(none)') AS key, count(*) AS opened FROM rp_cases c "
        f"WHERE c.opened_at >= :start AND c.opened_at < :end{scope.case_where(p)} "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        p,
    )
    total = sum(r["opened"] for r in rows)
    for r in rows:
        r["share_pct"] = round(100.0 * r["opened"] / total, 2) if total else None
    return table(["key", "opened", "share_pct"], rows, opened=total)


@dataclass(frozen=True)
class Report:
    fn: Callable[[Session, Scope], dict[str, Any]]
    title: str
    groups: tuple[str, ...]
    chart: str = "bar"  # bar or line


_EVENTS = (*ALL_GROUPS, "resolution")
REPORTS: dict[str, Report] = {
    "opened": Report(opened, "Cases opened", ALL_GROUPS, "line"),
    "completed": Report(completed, "Cases completed", _EVENTS),
    "reopened": Report(reopened, "Cases reopened", _EVENTS, "line"),
    "throughput": Report(throughput, "Throughput (completed per period and type)", _EVENTS, "line"),
    "backlog": Report(backlog, "Backlog and its age", tuple(CASE_GROUPS)),
    "cycle_time": Report(cycle_time, "Cycle time (opened to closed)", (*ALL_GROUPS, "resolution")),
    "stage_time": Report(stage_time, "Time in stage per type", ALL_GROUPS),
    "sla": Report(sla, "SLA compliance and breaches", ALL_GROUPS),
    "workload": Report(workload, "Workload", ("agent", "queue")),
    "channels": Report(channels, "Channel mix", ()),
}
