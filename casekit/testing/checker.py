"""The history checker: what clients were told against what the system holds after it drains.

Categories follow Jepsen's total-queue checker: **lost** (acknowledged, not there),
**duplicated** (acknowledged once, there more than once), **phantom** (there, never
asked for), and, per consumer, effects missing or doubled once the system drains.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from nameko.standalone.rpc import ClusterRpcProxy

from casekit.context import Principal
from casekit.launcher import Suite
from casekit.testing.history import Op

OUTBOX_SERVICES = ("cases", "documents", "routing", "notifications")
# rows still owed to a consumer; an event type no service has bound a queue for is returned
# unroutable by the broker and kept pending (with backoff) until one does: not a loss
UNSENT = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND last_error IS DISTINCT FROM 'unroutable'"


def query(suite: Suite, service: str, sql: str, params: tuple = ()) -> list[tuple]:
    url = suite.env[f"{service.upper()}_DB_URL"].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def index_entries(suite: Suite, case_ids: list[str]) -> dict[str, dict]:
    principal = Principal(user_id="checker", roles=("auditor",))
    out: dict[str, dict] = {}
    with ClusterRpcProxy(
        {"AMQP_URI": suite.env["AMQP_URI"]}, timeout=30, context_data=principal.context_data()
    ) as rpc:
        for start in range(0, len(case_ids), 1000):
            out.update({e["case_id"]: e for e in rpc.search.index_entries(case_ids[start : start + 1000])})
    return out


@dataclass
class Verdict:
    fault: str
    operations: int
    acknowledged: int
    failed: int
    unknown: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    phantoms: list[str] = field(default_factory=list)
    effects: dict[str, Counter] = field(default_factory=dict)  # consumer -> {"missing": n, "doubled": n}
    unsent_outbox: int = 0
    recovery_s: float | None = None
    drain_s: float = 0.0

    @property
    def clean(self) -> bool:
        problems = sum(sum(c.values()) for c in self.effects.values())
        return not (self.lost or self.duplicated or self.phantoms or problems or self.unsent_outbox)

    def row(self) -> list[str]:
        missing = sum(c["missing"] for c in self.effects.values())
        doubled = sum(c["doubled"] for c in self.effects.values())
        recovery = f"{self.recovery_s:.1f}" if self.recovery_s is not None else "-"
        return [
            self.fault,
            str(self.operations),
            str(self.acknowledged),
            str(len(self.lost)),
            str(len(self.duplicated)),
            str(len(self.phantoms)),
            str(missing),
            str(doubled),
            recovery,
            f"{self.drain_s:.1f}",
        ]


HEADER = [
    "fault",
    "operations",
    "acknowledged",
    "lost",
    "duplicated",
    "phantoms",
    "effects missing",
    "effects doubled",
    "recovery s",
    "drain s",
]


def _effects(suite: Suite, case_ids: list[str]) -> dict[str, Counter]:
    routed = Counter(
        dict(
            query(
                suite,
                "routing",
                "SELECT case_id, count(*) FROM work_items WHERE case_id = ANY(%s) GROUP BY case_id",
                (case_ids,),
            )
        )
    )
    notified = Counter(
        dict(
            query(
                suite,
                "notifications",
                "SELECT case_id, count(*) FROM notifications WHERE case_id = ANY(%s) GROUP BY case_id",
                (case_ids,),
            )
        )
    )
    indexed = {cid: e["copies"] for cid, e in index_entries(suite, case_ids).items()}
    out = {}
    for name, seen in (("routing", routed), ("notifications", notified), ("search", indexed)):
        out[name] = Counter(
            missing=sum(1 for c in case_ids if not seen.get(c)),
            doubled=sum(1 for c in case_ids if seen.get(c, 0) > 1),
        )
    return out


def check(
    suite: Suite,
    ops: list[Op],
    *,
    fault: str,
    tag: str,
    drain_timeout: float = 90.0,
    recovery_s: float | None = None,
    max_drain: float = 1200.0,
) -> Verdict:
    """Wait for the system to drain, then classify every operation and effect.

    Draining is waiting for quiescence, not for a fixed time: the wait goes on while effects keep
    arriving (a backlog of thousands of events after a fault is being worked off, not lost) and
    ends when everything is in, when nothing has changed for ``drain_timeout`` seconds, or after
    ``max_drain`` seconds in all.
    """
    acked = {op.key: op for op in ops if op.outcome == "ok"}
    verdict = Verdict(
        fault=fault,
        operations=len(ops),
        acknowledged=len(acked),
        failed=sum(op.outcome == "fail" for op in ops),
        unknown=sum(op.outcome == "info" for op in ops),
        recovery_s=recovery_s,
    )
    rows = query(suite, "cases", "SELECT idempotency_key, id FROM cases WHERE title LIKE %s", (f"{tag} %",))
    per_key = Counter(key for key, _ in rows)
    asked = {op.key for op in ops}
    verdict.lost = [k for k in acked if per_key[k] == 0]
    verdict.duplicated = [k for k, n in per_key.items() if n > 1]
    verdict.phantoms = [k for k in per_key if k not in asked]
    case_ids = [case_id for _, case_id in rows]
    started = progressed = time.monotonic()
    outstanding: tuple[int, ...] | None = None
    while True:
        try:
            verdict.effects = _effects(suite, case_ids)
        except Exception as exc:  # noqa: BLE001 - a consumer still recovering: ask again until the deadline
            if time.monotonic() - progressed > drain_timeout:
                raise
            verdict.effects = {"unknown": Counter(missing=len(case_ids))}
            print(f"checker: effects not readable yet ({exc!r}); retrying")
            time.sleep(2)
            continue
        verdict.unsent_outbox = sum(query(suite, s, UNSENT)[0][0] for s in OUTBOX_SERVICES)
        now = time.monotonic()
        if verdict.clean or now - progressed > drain_timeout or now - started > max_drain:
            break
        still = (*(c["missing"] + c["doubled"] for c in verdict.effects.values()), verdict.unsent_outbox)
        if still != outstanding:
            outstanding, progressed = still, now
        time.sleep(0.5)
    verdict.drain_s = time.monotonic() - started
    return verdict


def table(verdicts: list[Verdict], markdown: bool = False) -> str:
    return table_from_rows([v.row() for v in verdicts], markdown)


def describe(verdict: Verdict, ops: list[Op]) -> dict[str, Any]:
    """What to print when a verdict is not clean."""
    return {
        "lost": verdict.lost[:10],
        "duplicated": verdict.duplicated[:10],
        "phantoms": verdict.phantoms[:10],
        "effects": {k: dict(v) for k, v in verdict.effects.items()},
        "unsent_outbox": verdict.unsent_outbox,
        "not ok": [(op.key, op.statuses) for op in ops if op.outcome != "ok"][:10],
    }


REPORT_ENV = "CASEWORK_CHAOS_REPORT"


def record(verdict: Verdict) -> None:
    """Append the verdict to ``$CASEWORK_CHAOS_REPORT`` (JSON lines) for ``bin/chaos``'s summary."""
    import json
    import os

    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a") as out:
        effects = {name: dict(counts) for name, counts in verdict.effects.items()}
        out.write(json.dumps({"row": verdict.row(), "clean": verdict.clean, "effects": effects}) + "\n")


def table_from_rows(rows: list[list[str]], markdown: bool = False) -> str:
    rows = [HEADER, *rows]
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "|" + "---|" * len(HEADER))
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
