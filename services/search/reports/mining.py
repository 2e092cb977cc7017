"""Process insight from the case histories: stages, directly-follows graph, variants, rework, bottlenecks.

Scope: the cases opened in the period that match the filters. A case's stage visits come from
its events in version order (``derive.py``); "(closed)" is the state between a close and a reopen.
A rework visit is a return to a stage the case had already been in (a reopen into an earlier
stage included). Open stays count towards bottlenecks up to the end of the period.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.search.reports.models import CLOSED
from services.search.reports.queries import _stats, run, table
from services.search.reports.scope import Scope

START = "(start)"
IN_SCOPE = "c.opened_at >= :start AND c.opened_at < :end"


def _params(scope: Scope) -> tuple[dict[str, Any], str]:
    p: dict[str, Any] = {"closed": CLOSED, "first": START}
    return p, scope.case_where(p)


def stages(session: Session, scope: Scope) -> dict[str, Any]:
    p, where = _params(scope)
    stay = "extract(epoch FROM (v.left_at - v.entered_at))"
    rows = run(
        session,
        "SELECT v.stage AS key, count(*) FILTER (WHERE v.left_at IS NOT NULL) AS visits, "
        "count(*) FILTER (WHERE v.left_at IS NULL) AS open_visits, "
        f"count(*) FILTER (WHERE v.rework) AS rework_visits, {_stats(stay)} "
        f"FROM rp_visits v JOIN rp_cases c USING (case_id) WHERE v.stage <> :closed AND {IN_SCOPE}{where} "
        "GROUP BY 1 ORDER BY 1",
        p,
    )
    return table(
        ["key", "visits", "open_visits", "rework_visits", "median_seconds", "p90_seconds", "mean_seconds"],
        rows,
    )


def dfg(session: Session, scope: Scope) -> dict[str, Any]:
    """Edges ``source -> target`` with how often one directly followed the other and the mean wait."""
    p, where = _params(scope)
    if scope.level == "activity":
        sql = (
            "SELECT e.activity AS source, e.next_activity AS target, count(*) AS frequency, "
            "round(avg(extract(epoch FROM (e.next_at - e.occurred_at)))::numeric, 3)::float "
            "AS mean_wait_seconds "
            "FROM rp_events e JOIN rp_cases c USING (case_id) "
            f"WHERE e.next_activity IS NOT NULL AND {IN_SCOPE}{where} GROUP BY 1, 2 "
            "UNION ALL SELECT :first, e.activity, count(*), 0.0 "
            "FROM rp_events e JOIN rp_cases c USING (case_id) "
            f"WHERE e.seq = 1 AND {IN_SCOPE}{where} GROUP BY 2 ORDER BY 3 DESC, 1, 2"
        )
    else:
        sql = (
            "SELECT v.stage AS source, v.next_stage AS target, count(*) AS frequency, "
            "round(avg(extract(epoch FROM (v.left_at - v.entered_at)))::numeric, 3)::float "
            "AS mean_wait_seconds "
            "FROM rp_visits v JOIN rp_cases c USING (case_id) "
            f"WHERE v.next_stage IS NOT NULL AND {IN_SCOPE}{where} GROUP BY 1, 2 "
            "UNION ALL SELECT :first, v.stage, count(*), 0.0 "
            "FROM rp_visits v JOIN rp_cases c USING (case_id) "
            f"WHERE v.seq = 1 AND {IN_SCOPE}{where} GROUP BY 2 ORDER BY 3 DESC, 1, 2"
        )
    rows = run(session, sql, p)
    nodes: dict[str, int] = {}
    for r in rows:
        nodes[r["target"]] = nodes.get(r["target"], 0) + r["frequency"]
        nodes.setdefault(r["source"], 0)
    return table(
        ["source", "target", "frequency", "mean_wait_seconds"],
        rows,
        level=scope.level,
        nodes=nodes,
    )


def variants(session: Session, scope: Scope) -> dict[str, Any]:
    p, where = _params(scope)
    p["limit"] = scope.limit
    cycle = "extract(epoch FROM (c.closed_at - c.opened_at))"
    rows = run(
        session,
        "SELECT c.variant AS key, count(*) AS cases, count(*) FILTER (WHERE c.status = 'closed') AS closed, "
        f"round(percentile_cont(0.5) WITHIN GROUP (ORDER BY {cycle})::numeric, 3)::float AS median_seconds, "
        f"round(percentile_cont(0.9) WITHIN GROUP (ORDER BY {cycle})::numeric, 3)::float AS p90_seconds, "
        f"round(avg({cycle})::numeric, 3)::float AS mean_seconds, "
        "round((100.0 * count(*) / sum(count(*)) OVER ())::numeric, 2)::float AS share_pct "
        f"FROM rp_cases c WHERE {IN_SCOPE}{where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT :limit",
        p,
    )
    total = run(session, f"SELECT count(DISTINCT c.variant) AS n FROM rp_cases c WHERE {IN_SCOPE}{where}", p)
    return table(
        ["key", "cases", "closed", "share_pct", "median_seconds", "p90_seconds", "mean_seconds"],
        rows,
        variants=total[0]["n"],
    )


def rework(session: Session, scope: Scope) -> dict[str, Any]:
    """Each way back: from the stage left to the stage returned to, how often and in how many cases."""
    p, where = _params(scope)
    rows = run(
        session,
        "SELECT v.prev_stage AS source, v.stage AS target, count(*) AS loops, "
        "count(DISTINCT v.case_id) AS cases "
        f"FROM rp_visits v JOIN rp_cases c USING (case_id) WHERE v.rework AND {IN_SCOPE}{where} "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
        p,
    )
    scoped = run(
        session,
        "SELECT count(*) AS cases, (SELECT count(DISTINCT v.case_id) FROM rp_visits v JOIN rp_cases c "
        f"USING (case_id) WHERE v.rework AND {IN_SCOPE}{where}) AS with_rework "
        f"FROM rp_cases c WHERE {IN_SCOPE}{where}",
        p,
    )[0]
    share = round(100.0 * scoped["with_rework"] / scoped["cases"], 2) if scoped["cases"] else None
    return table(
        ["source", "target", "loops", "cases"],
        rows,
        cases=scoped["cases"],
        cases_with_rework=scoped["with_rework"],
        rework_pct=share,
    )


def bottlenecks(session: Session, scope: Scope) -> dict[str, Any]:
    """Stages ranked by the waiting time spent in them (open stays up to the end of the period)."""
    p, where = _params(scope)
    stay = "extract(epoch FROM (coalesce(least(v.left_at, :end), :end) - v.entered_at))"
    rows = run(
        session,
        f"SELECT v.stage AS key, round(sum({stay})::numeric, 3)::float AS total_seconds, "
        "count(*) AS visits, count(DISTINCT v.case_id) AS cases, "
        f"round(percentile_cont(0.5) WITHIN GROUP (ORDER BY {stay})::numeric, 3)::float AS median_seconds, "
        f"round(percentile_cont(0.9) WITHIN GROUP (ORDER BY {stay})::numeric, 3)::float AS p90_seconds "
        f"FROM rp_visits v JOIN rp_cases c USING (case_id) WHERE v.stage <> :closed AND v.entered_at < :end "
        f"AND {IN_SCOPE}{where} GROUP BY 1 ORDER BY 2 DESC, 1",
        p,
    )
    grand = sum(r["total_seconds"] or 0 for r in rows)
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
        r["share_pct"] = round(100.0 * r["total_seconds"] / grand, 2) if grand else None
    return table(
        ["rank", "key", "total_seconds", "share_pct", "visits", "cases", "median_seconds", "p90_seconds"],
        rows,
        total_seconds=grand,
    )


VIEWS = {
    "stages": (stages, "Time in each stage"),
    "dfg": (dfg, "Directly-follows graph"),
    "variants": (variants, "Most common paths"),
    "rework": (rework, "Rework loops"),
    "bottlenecks": (bottlenecks, "Bottleneck ranking"),
}
