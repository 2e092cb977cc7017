"""Kill one process during a burst of creations, restart it, and check the history.

Invariants after the system drains: every acknowledged case exists exactly once;
no case exists that no client asked for; every consumer's effect exists exactly
once (work item, one notification for the queue's supervisor, one search document
at the case's version); no outbox row is left unsent; every audit chain verifies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from casekit.context import Principal
from casekit.launcher import Suite
from casekit.testing.history import burst
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e

FAULT_TARGETS = ["cases", "routing", "search", "notifications", "relay-cases", "relay-routing", "gateway"]


def restart(suite: Suite, name: str, down_for: float = 1.0) -> Callable[[], None]:
    def fault() -> None:
        suite.kill(name)
        time.sleep(down_for)
        suite.start([name])

    return fault


def index_entries(suite: Suite, case_ids: list[str]) -> dict[str, dict]:
    principal = Principal(user_id="checker", roles=("auditor",))
    with ClusterRpcProxy(
        {"AMQP_URI": suite.env["AMQP_URI"]}, timeout=20, context_data=principal.context_data()
    ) as rpc:
        return {e["case_id"]: e for e in rpc.search.index_entries(case_ids)}


@pytest.mark.parametrize("target", FAULT_TARGETS)
def test_a_killed_process_loses_and_doubles_nothing(suite: Suite, admin: Client, sql, target: str) -> None:  # noqa: ANN001
    tag = f"fault-{target}-{uuid.uuid4().hex[:6]}"
    ops = burst(
        lambda: Client(suite.gateway_url),
        count=40,
        threads=6,
        tag=tag,
        at_progress=(12, restart(suite, target)),
    )
    acked = {op.key: op for op in ops if op.outcome == "ok"}
    assert [op for op in ops if op.outcome == "fail"] == []
    assert len(acked) == len(ops), [op.statuses for op in ops if op.outcome != "ok"]
    suite.wait_ready(timeout=60)

    # every acknowledged case exists exactly once; no phantom cases
    rows = sql("cases", "SELECT idempotency_key, id FROM cases WHERE title LIKE %s", (f"{tag} %",))
    assert sorted(k for k, _ in rows) == sorted(acked)
    assert {case_id for _, case_id in rows} == {op.case_id for op in acked.values()}
    case_ids = [op.case_id for op in acked.values()]

    # every consumer's effect exists exactly once, once the system drains
    def routed_and_notified() -> bool:
        items = sql("routing", "SELECT count(*) FROM work_items WHERE case_id = ANY(%s)", (case_ids,))[0][0]
        notes = sql(
            "notifications",
            "SELECT case_id, count(*) FROM notifications WHERE case_id = ANY(%s) GROUP BY case_id",
            (case_ids,),
        )
        return items == len(case_ids) and len(notes) == len(case_ids)

    eventually(routed_and_notified, timeout=60, interval=0.5)
    notes = sql(
        "notifications",
        "SELECT case_id, count(*) FROM notifications WHERE case_id = ANY(%s) GROUP BY case_id",
        (case_ids,),
    )
    assert {count for _, count in notes} == {1}

    def indexed_once() -> dict | None:
        entries = index_entries(suite, case_ids)
        return entries if all(e["copies"] == 1 for e in entries.values()) else None

    entries = eventually(indexed_once, timeout=60, interval=0.5)
    assert {v for e in entries.values() for v in e["versions"]} == {1}

    # nothing left unsent, and the audit trail of every case holds
    for service in ("cases", "routing", "documents", "notifications"):
        eventually(
            lambda s=service: sql(s, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0,
            timeout=30,
            interval=0.5,
        )
    for case_id in case_ids[:10]:
        assert admin.get(f"/api/v1/cases/{case_id}/audit/verify").json()["ok"] is True
