"""Re-applying a changed rule set to the cases already waiting, on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from casekit.errors import PermissionDenied
from services.routing.logic import queues
from services.routing.service import RoutingService
from tests.integration.helpers import call, sql
from tests.integration.routing_helpers import ADMIN, SUPERVISOR, a_case, agent, deliver

pytestmark = pytest.mark.integration

BEFORE = {"default_queue": "default", "queues": [{"name": "energy"}, {"name": "special"}], "rules": []}
AFTER = {
    **BEFORE,
    "rules": [
        {"id": "gas", "when": {"data": {"product": "gas"}}, "then": {"queue": "energy", "skills": ["gas"]}}
    ],
}


@pytest.fixture
def routing(start_service: Callable[..., Any]) -> Any:
    container = start_service(RoutingService, db="routing")
    call(container, "put_rules", BEFORE, context=ADMIN)
    call(container, "add_queue_member", "default", "ann", "agent", context=SUPERVISOR)
    return container


def open_case(routing: Any, **data: Any) -> str:
    case = a_case(data=data)
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    return case["id"]


def queue_of(routing: Any, case_id: str) -> str:
    return call(routing, "get_work_item", case_id, context=ADMIN)["queue"]


def test_waiting_cases_move_to_where_the_new_rules_send_them(routing: Any) -> None:
    db = routing.config["DB_URL"]
    waiting, held, moved_by_hand, electric = (
        open_case(routing, product=p) for p in ("gas",) * 3 + ("power",)
    )
    call(routing, "assign_case", held, "ann", "on it", context=SUPERVISOR)
    bulk = {"case_ids": [moved_by_hand], "to_queue": "special", "reason": "a specialist should see it"}
    call(routing, "bulk_reallocate", bulk, context=SUPERVISOR)
    call(routing, "put_rules", AFTER, None, {"if_match": "*", "if_none_match": None}, context=ADMIN)
    queued_before = sql(db, "SELECT count(*) FROM outbox WHERE type = 'case_queued'")

    preview = call(routing, "reapply_rules", True, context=SUPERVISOR)
    assert preview["dry_run"] is True and preview["rule_set_version"] == 2
    assert [(m["case_id"], m["from"], m["to"], m["rule"]) for m in preview["moved"]] == [
        (waiting, "default", "energy", "gas")
    ]
    assert (preview["examined"], preview["unchanged"], preview["kept_manual"]) == (3, 1, 1)
    assert queue_of(routing, waiting) == "default", "a dry run changes nothing"
    assert sql(db, "SELECT count(*) FROM outbox WHERE type = 'case_queued'") == queued_before

    done = call(routing, "reapply_rules", context=SUPERVISOR)
    assert [m["case_id"] for m in done["moved"]] == [waiting] and done["next_after"] is None
    assert [queue_of(routing, c) for c in (waiting, held, moved_by_hand, electric)] == [
        "energy",
        "default",
        "special",
        "default",
    ]
    got = call(routing, "get_work_item", waiting, context=ADMIN)
    assert (got["rule"], got["required_skills"]) == ("gas", ["gas"])
    [(payload,)] = sql(db, "SELECT payload FROM outbox WHERE type = 'case_queued' ORDER BY id DESC LIMIT 1")
    assert payload["data"]["previous_queue"] == "default" and payload["data"]["queue"] == "energy"
    [(trigger, actor, previous)] = sql(
        db,
        "SELECT trigger, actor, previous_queue FROM routing_decisions"
        " WHERE case_id = %s ORDER BY id DESC LIMIT 1",
        (waiting,),
    )
    assert (trigger, actor, previous) == ("rules_reapplied", "sup-1", "default")

    again = call(routing, "reapply_rules", context=SUPERVISOR)
    assert again["moved"] == [] and again["kept_manual"] == 1, "only the hand-moved case is still older"


def test_a_long_backlog_is_walked_in_calls_that_say_where_to_go_on(
    routing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = sorted(open_case(routing, product="gas") for _ in range(5))
    call(routing, "put_rules", AFTER, None, {"if_match": "*", "if_none_match": None}, context=ADMIN)
    monkeypatch.setattr(queues, "REAPPLY_MAX", 2)
    monkeypatch.setattr(queues, "REAPPLY_BATCH", 2)

    seen, after = [], None
    for _ in range(5):
        page = call(routing, "reapply_rules", False, after, context=ADMIN)
        seen += [m["case_id"] for m in page["moved"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == cases and {queue_of(routing, c) for c in cases} == {"energy"}


def test_agents_may_not_reroute_the_backlog(routing: Any) -> None:
    with pytest.raises(PermissionDenied):
        call(routing, "reapply_rules", True, context=agent("ann"))
