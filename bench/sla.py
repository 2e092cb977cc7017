"""SLA clocks: calendar arithmetic, clocks started from events, and the timer firing breaches.

    .venv/bin/python bench/sla.py [--cases 2000] [--replicas 2] [--batch 200]

Needs PostgreSQL only (a throwaway routing database, dropped afterwards); no broker: the
logic is called as the service's handlers call it, each case in its own transaction. Prints
figures and never asserts, except that each due clock fired exactly once.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts.events import make_envelope
from casekit.db import make_engine
from casekit.outbox import EventWriter
from casekit.testing import infra
from services.routing.logic import sla, sla_store
from services.routing.logic.calendars import parse_calendar
from services.routing.models import outbox

UK = parse_calendar(
    "uk-office",
    {
        "timezone": "Europe/London",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["12-25", "12-26", "01-01", "2026-04-03", "2026-04-06"],
    },
)
POLICY = {
    "calendar": "24x7",
    "pause": {"stages": ["pending"]},
    "clocks": {
        "first_response": {
            "target_hours": 1,
            "stop_on": ["agent_response"],
            "warn_at": [0.75],
            "on_breach": ["notify"],
        },
        "resolution": {"target_hours": 40, "warn_at": [0.5, 0.75]},
        "stage": {"target_hours": "case_type"},
    },
}


def bench_calendar(n: int = 20000) -> dict[str, float]:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    spans = [timedelta(minutes=37 * (i % 500) + 1) for i in range(n)]
    t = time.perf_counter()
    ends = [UK.add(start + timedelta(hours=i % 3000), d) for i, d in enumerate(spans)]
    add_rate = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for i, end in enumerate(ends):
        UK.business_time(start + timedelta(hours=i % 3000), end)
    measure_rate = n / (time.perf_counter() - t)
    return {"add/s": add_rate, "business_time/s": measure_rate}


def snapshot(case_id: str, created: datetime) -> dict[str, Any]:
    at = created.isoformat()
    return {
        "id": case_id,
        "reference": f"BEN-{case_id[:6]}",
        "type": "bench",
        "title": "bench",
        "priority": "normal",
        "status": "open",
        "stage": "received",
        "version": 1,
        "team": None,
        "restricted": False,
        "data": {},
        "created_at": at,
        "updated_at": at,
        "stage_entered_at": at,
        "sla": {"priority": "normal", "stage": "received", "target_hours": 8},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    cal = bench_calendar()
    print(f"calendar uk-office: add {cal['add/s']:,.0f}/s, business_time {cal['business_time/s']:,.0f}/s")

    admin = Principal(user_id="bench", roles=("admin",))
    with infra.databases(f"cwbench_{uuid.uuid4().hex[:8]}", ["routing"], migrated=True) as urls:
        engine = make_engine(urls["routing"], pool_size=args.replicas + 1)
        writer = EventWriter("routing", outbox, Principal.system("bench"))
        with Session(engine) as s:
            sla_store.put_policy(session=s, principal=admin, case_type="bench", definition=POLICY)
            s.commit()
            now = s.execute(text("SELECT now()")).scalar_one()
        created = now - timedelta(hours=3)  # first response breached, resolution running
        latencies = []
        t = time.perf_counter()
        for _ in range(args.cases):
            case_id = str(uuid.uuid4())
            envelope = make_envelope(
                producer="cases",
                type="case_opened",
                case_id=case_id,
                case_version=1,
                data={"case": snapshot(case_id, created)},
                occurred_at=created,
            )
            t1 = time.perf_counter()
            with Session(engine) as s:
                sla.on_case_event(session=s, events=writer, event=envelope)
                s.commit()
            latencies.append(time.perf_counter() - t1)
        opened = time.perf_counter() - t
        latencies.sort()
        p50, p99 = statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99)] * 1000
        print(
            f"case_opened, 3 clocks each: {args.cases / opened:,.0f} cases/s, p50 {p50:.1f}, p99 {p99:.1f} ms"
        )

        fired = [0] * args.replicas

        def replica(i: int) -> None:
            while True:
                with Session(engine) as s:
                    n = sla.fire_due(session=s, events=writer, batch=args.batch)
                    s.commit()
                fired[i] += n
                if n < args.batch:
                    return

        t = time.perf_counter()
        threads = [threading.Thread(target=replica, args=(i,)) for i in range(args.replicas)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took = time.perf_counter() - t
        with Session(engine) as s:
            breaches = s.execute(
                text(
                    "SELECT count(*), count(DISTINCT payload->>'case_id') FROM outbox "
                    "WHERE type = 'sla_breached'"
                )
            ).one()
            left = s.execute(text("SELECT count(*) FROM sla_clocks WHERE next_fire_at <= now()")).scalar_one()
        print(
            f"timer, {args.replicas} replicas x batch {args.batch}: {sum(fired)} due clocks "
            f"(warning + breach each) in {took:.2f} s = {sum(fired) / took:,.0f} clocks/s; by replica {fired}"
        )
        assert breaches[0] == breaches[1] == args.cases and left == 0, (breaches, left)
        print(f"exactly once: {breaches[0]} breaches for {breaches[1]} cases, {left} left due")
        engine.dispose()


if __name__ == "__main__":
    main()
