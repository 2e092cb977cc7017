"""Reports benchmark: every report and process view over 1,000,000 cases with about 10 events each.

    .venv/bin/python bench/reports.py                    # 1,000,000 cases (a few minutes of loading)
    .venv/bin/python bench/reports.py --cases 50000      # smaller

A throwaway database gets the search service's migrations; generated cases (claims and
complaints over 90 days, four stages, 12% rework, 8% reopened, 85% closed; queued, assigned,
first-response and resolution SLA clocks, some breaches) are written straight into the reports
tables with COPY: ``rp_cases``, ``rp_events`` (the ~10 events per case) and ``rp_visits``. Then each
report and process view is computed with the service's own code (``compute_report``,
``compute_view``), over the whole period and again with a filter, and the process graph is drawn
(graphviz ``dot``, SVG). Times in seconds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casekit.db import make_engine, migrate  # noqa: E402
from casekit.testing import infra  # noqa: E402
from services.search.reports import charts  # noqa: E402
from services.search.reports.queries import REPORTS  # noqa: E402
from services.search.reports.service import MIGRATIONS, compute_report, compute_view  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=90)
STAGES = ("received", "assessing", "approval", "done")
TYPES, QUEUES, TEAMS = ("claim", "complaint"), ("q1", "q2", "q3", "q4"), ("t1", "t2")
AGENTS = tuple(f"agent{i}" for i in range(40))
CHANNELS, PRIORITIES = ("web", "email", "phone", "sms"), ("low", "normal", "high")


def _ts(t: datetime) -> str:
    return t.isoformat()


def _n(v: object) -> str:
    return "\\N" if v is None else str(v)


def generate(n: int, seed: int = 1) -> tuple[io.StringIO, io.StringIO, io.StringIO]:
    """Tab-separated COPY input for rp_cases, rp_events and rp_visits."""
    rnd = random.Random(seed)
    cases, events, visits = io.StringIO(), io.StringIO(), io.StringIO()
    start = END - SPAN
    for _ in range(n):
        cid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        kind, queue, team = rnd.choice(TYPES), rnd.choice(QUEUES), rnd.choice(TEAMS)
        agent, channel, priority = rnd.choice(AGENTS), rnd.choice(CHANNELS), rnd.choice(PRIORITIES)
        t = start + timedelta(seconds=rnd.uniform(0, SPAN.total_seconds()))
        opened = t
        path = ["received", "assessing"]
        if rnd.random() < 0.12:
            path += ["received", "assessing"]
        path += ["approval"]
        closes = rnd.random() < 0.85
        reopen = closes and rnd.random() < 0.08
        # (event type, activity, stage after it); a task in the first stage after "received"
        steps: list[tuple[str, str, str | None]] = [("case_opened", "opened", path[0])]
        for i, stage in enumerate(path[1:], 1):
            steps.append(("case_transitioned", f"stage {stage}", stage))
            if i == 1:
                steps.append(("task_completed", "task assess", stage))
        if closes:
            steps.append(("case_closed", "closed", None))
            if reopen:
                steps += [("case_reopened", "reopened", "approval"), ("case_closed", "closed", None)]
        rows: list[list] = []
        seen, vis, current = set(), [], None
        for version, (kind_, activity, stage) in enumerate(steps, 1):
            if version > 1:
                t = t + timedelta(hours=rnd.expovariate(1 / 20))
            state = "(closed)" if kind_ == "case_closed" else stage
            rows.append([kind_, activity, t, version, stage or path[-1]])
            if current is not None and current[1] == state:
                continue
            prev = None
            if current is not None:
                current[3], current[4], prev = t, state, current[1]
            current = [len(vis) + 1, state, t, None, None, prev, state != "(closed)" and state in seen]
            seen.add(state)
            vis.append(current)
        closed_at = t if closes else None
        for i, (kind_, activity, at, version, stage) in enumerate(rows):
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            events.write(
                "\t".join(
                    [
                        str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                        cid,
                        "cases",
                        kind_,
                        _ts(at),
                        str(version),
                        stage,
                        "\\N",
                        "\\N",
                        "\\N",
                        "\\N",
                        "\\N",
                        "\\N",
                        "paid" if kind_ == "case_closed" else "\\N",
                        "{}",
                        str(i + 1),
                        activity,
                        _n(nxt[1] if nxt else None),
                        _n(_ts(nxt[2]) if nxt else None),
                    ]
                )
                + "\n"
            )
        routing = [
            ("case_queued", opened, None, None),
            ("case_assigned", opened + timedelta(minutes=30), None, None),
            (
                "sla_clock_stopped",
                opened + timedelta(hours=rnd.expovariate(1 / 6)),
                "first_response",
                rnd.random() < 0.9,
            ),
        ]
        if rnd.random() < 0.1:
            routing.append(("sla_breached", opened + timedelta(hours=8), "first_response", None))
        if closes:
            routing.append(("sla_clock_stopped", closed_at, "resolution", rnd.random() < 0.8))
            routing.append(("case_unassigned", closed_at, None, None))
        for kind_, at, clock, met in routing:
            events.write(
                "\t".join(
                    [
                        str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                        cid,
                        "routing",
                        kind_,
                        _ts(at),
                        "\\N",
                        "\\N",
                        queue,
                        agent if kind_ in ("case_assigned", "case_unassigned") else "\\N",
                        _n(clock),
                        _n(met),
                        "3600" if clock else "\\N",
                        "28800" if clock else "\\N",
                        "\\N",
                        "{}",
                        "\\N",
                        "\\N",
                        "\\N",
                        "\\N",
                    ]
                )
                + "\n"
            )
        for seq, stage, entered, left, nxt, prev, rework in vis:
            visits.write(
                f"{cid}\t{seq}\t{stage}\t{_ts(entered)}\t{_n(left and _ts(left))}\t"
                f"{_n(nxt)}\t{_n(prev)}\t{rework}\n"
            )
        status = "closed" if closes else "open"
        variant = " > ".join(v[1] for v in vis)
        cases.write(
            "\t".join(
                [
                    cid,
                    str(len(rows)),
                    f"REF-{cid[:8]}",
                    kind,
                    priority,
                    channel,
                    team,
                    status,
                    path[-1],
                    "paid" if closes else "\\N",
                    _ts(opened),
                    _n(closed_at and _ts(closed_at)),
                    "1" if reopen else "0",
                    queue,
                    "\\N" if closes else agent,
                    variant,
                ]
            )
            + "\n"
        )
    for buf in (cases, events, visits):
        buf.seek(0)
    return cases, events, visits


def load(url: str, n: int, chunk: int = 50_000) -> float:
    engine = make_engine(url, pool_size=1)
    started = time.monotonic()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SET statement_timeout = 0; SET synchronous_commit = off; SET maintenance_work_mem = '512MB'"
        )
        # bulk load: secondary indexes are dropped first and built once at the end
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename IN ('rp_cases', 'rp_events', 'rp_visits') "
            "AND indexname NOT LIKE 'pk_%'"
        )
        found = cur.fetchall()
        indexes = [definition for _, definition in found]
        for index_name, _ in found:
            cur.execute(f'DROP INDEX "{index_name}"')
        for done in range(0, n, chunk):
            cases, events, visits = generate(min(chunk, n - done), seed=done + 1)
            cur.copy_expert("COPY rp_cases FROM STDIN", cases)
            cur.copy_expert("COPY rp_events FROM STDIN", events)
            cur.copy_expert("COPY rp_visits FROM STDIN", visits)
            raw.commit()
            print(
                f"\r  loaded {done + min(chunk, n - done):>9} cases  {time.monotonic() - started:7.1f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        print(f"  rebuilding {len(indexes)} indexes", file=sys.stderr)
        for definition in indexes:
            cur.execute(definition)
        raw.commit()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
        engine.dispose()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    name = f"casework_bench_reports_{uuid.uuid4().hex[:6]}"
    url = infra.create_database(name)
    try:
        migrate(MIGRATIONS, url)
        loaded = load(url, args.cases)
        engine = make_engine(url, pool_size=1, connect_args={"options": "-c statement_timeout=0"})
        session = sessionmaker(bind=engine)()
        session.execute(text("SELECT 1"))
        counts = {
            t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in ("rp_cases", "rp_events", "rp_visits")
        }
        print(f"loaded {counts} in {loaded:.1f} s")
        whole = {"from": (END - SPAN).isoformat(), "to": END.isoformat()}
        print(f"{'report':<22}{'whole period s':>16}{'queue=q1, 30 d s':>18}{'rows':>7}")
        for kind, names, fn in (
            ("report", REPORTS, compute_report),
            ("process", ("stages", "dfg", "variants", "rework", "bottlenecks"), compute_view),
        ):
            for report in names:
                t0 = time.monotonic()
                got = fn(session, report, whole)
                t1 = time.monotonic()
                fn(session, report, {"last": "30d", "to": END.isoformat(), "queue": "q1"})
                t2 = time.monotonic()
                print(f"{kind + ' ' + report:<22}{t1 - t0:>16.2f}{t2 - t1:>18.2f}{len(got['rows']):>7}")
        t0 = time.monotonic()
        dfg = compute_view(session, "dfg", {**whole, "level": "activity"})
        t1 = time.monotonic()
        svg = charts.graph_svg(dfg, "Process (activities)")
        t2 = time.monotonic()
        print(f"process graph (activities): dfg {t1 - t0:.2f} s + dot {t2 - t1:.2f} s, {len(svg)} bytes SVG")
        t0 = time.monotonic()
        chart = charts.chart_svg(compute_report(session, "throughput", whole), "Throughput", "line")
        print(f"throughput line chart: {time.monotonic() - t0:.2f} s, {len(chart)} bytes SVG")
        session.close()
        engine.dispose()
    finally:
        infra.drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
