"""Services scale as competing consumers: two replicas share one queue, and losing one loses nothing."""

from __future__ import annotations

import uuid

import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.history import burst
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def consumers(suite: Suite, queue: str) -> int:
    found = {q["name"]: q for q in infra.queues(suite.env["CASEWORK_VHOST"])}
    return int(found.get(queue, {}).get("consumers", 0))


def test_replicas_compete_for_the_same_queues_and_survive_losing_one(suite: Suite, sql) -> None:  # noqa: ANN001
    replicas = [suite.add_replica("cases"), suite.add_replica("routing")]
    suite.start(replicas)
    try:
        eventually(lambda: consumers(suite, "rpc-cases") == 2, timeout=60, interval=0.5)
        eventually(lambda: consumers(suite, "evt-cases-case_opened--routing.handle_case_opened") == 2,
                   timeout=60, interval=0.5)
        tag = f"replicas-{uuid.uuid4().hex[:6]}"
        ops = burst(lambda: Client(suite.gateway_url), count=30, threads=6, tag=tag,
                    at_progress=(10, lambda: suite.kill(replicas[0])))
        assert all(op.outcome == "ok" for op in ops), [op.statuses for op in ops]
        keys = sql("cases", "SELECT idempotency_key FROM cases WHERE title LIKE %s", (f"{tag} %",))
        assert sorted(k for (k,) in keys) == sorted(op.key for op in ops)
        case_ids = [op.case_id for op in ops]
        eventually(lambda: sql("routing", "SELECT count(*) FROM work_items WHERE case_id = ANY(%s)",
                               (case_ids,))[0][0] == len(case_ids), timeout=60, interval=0.5)
    finally:
        suite.stop(replicas)
    eventually(lambda: consumers(suite, "rpc-cases") == 1, timeout=60, interval=0.5)
