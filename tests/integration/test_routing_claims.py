"""Claims, leases, assignment permissions, bulk reallocation and the scored views, on real PG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.routing.logic.actions import move_to_queue, raise_priority
from services.routing.service import RoutingService
from tests.integration.helpers import call, sql
from tests.integration.routing_helpers import ADMIN, SUPERVISOR, a_case, agent, deliver

pytestmark = pytest.mark.integration

RULES = {
    "queues": [{"name": "gas"}],
    "rules": [
        {"id": "gas", "when": {"data": {"product": "gas"}}, "then": {"queue": "gas", "skills": ["gas"]}}
    ],
}


@pytest.fixture
def routing(start_service: Callable[..., Any]) -> Any:
    container = start_service(RoutingService, db="routing")
    call(container, "put_rules", RULES, context=ADMIN)
    for queue in ("default", "gas"):
        for user in ("ann", "bob"):
            call(container, "add_queue_member", queue, user, "agent", context=SUPERVISOR)
    return container


def open_case(routing: Any, **fields: Any) -> str:
    case = a_case(**fields)
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    return case["id"]


def events(routing: Any, kind: str) -> list[dict[str, Any]]:
    rows = sql(routing.config["DB_URL"], "SELECT payload FROM outbox WHERE type = %s ORDER BY id", (kind,))
    return [r[0]["data"] for r in rows]


def test_claim_next_takes_the_best_item_the_agent_is_qualified_for(routing: Any) -> None:
    low = open_case(routing, priority="low")
    urgent = open_case(routing, priority="urgent")
    gas = open_case(routing, priority="urgent", data={"product": "gas"})
    ann = agent("ann")

    first = call(routing, "claim_next", context=ann)
    assert first["case_id"] == urgent and first["assigned_via"] == "claim" and first["lease_expires_at"]
    assert first["score"]["components"][0]["term"] == "priority"
    assert call(routing, "claim_next", context=ann)["case_id"] == low, "gas needs a skill ann lacks"
    assert call(routing, "claim_next", context=ann) is None

    call(routing, "put_agent", "bob", {"skills": ["gas"]}, context=SUPERVISOR)
    assert call(routing, "claim_next", "gas", context=agent("bob"))["case_id"] == gas
    assigned = events(routing, "case_assigned")
    assert [(e["assignee"], e["via"], e["previous_assignee"]) for e in assigned] == [
        ("ann", "claim", None),
        ("ann", "claim", None),
        ("bob", "claim", None),
    ]
    with pytest.raises(PermissionDenied):
        call(routing, "claim_next", "gas", context=agent("carol"))


def test_capacity_and_availability_are_honoured(routing: Any) -> None:
    open_case(routing)
    open_case(routing)
    call(routing, "put_agent", "ann", {"capacity": 1}, context=SUPERVISOR)
    assert call(routing, "claim_next", context=agent("ann")) is not None
    with pytest.raises(Conflict, match="capacity"):
        call(routing, "claim_next", context=agent("ann"))
    assert (
        call(routing, "put_agent", "bob", {"availability": "away"}, context=agent("bob"))["availability"]
        == "away"
    )
    with pytest.raises(Conflict, match="away"):
        call(routing, "claim_next", context=agent("bob"))
    with pytest.raises(PermissionDenied):
        call(routing, "put_agent", "bob", {"capacity": 50}, context=agent("bob"))
    with pytest.raises(PermissionDenied):
        call(routing, "put_agent", "ann", {"availability": "off"}, context=agent("bob"))
    with pytest.raises(InvalidInput) as caught:
        call(routing, "put_agent", "ann", {"capacity": -1, "languages": ["French"]}, context=SUPERVISOR)
    assert {f["field"] for f in caught.value.fields} == {"capacity", "languages"}


def test_agents_release_and_renew_only_their_own_work(routing: Any) -> None:
    case_id = open_case(routing)
    call(routing, "claim_next", context=agent("ann"))
    with pytest.raises(PermissionDenied):
        call(routing, "release_case", case_id, context=agent("bob"))
    with pytest.raises(PermissionDenied):
        call(routing, "renew_claim", case_id, context=agent("bob"))
    with pytest.raises(PermissionDenied):
        call(routing, "assign_case", case_id, "bob", context=agent("ann"))
    with pytest.raises(PermissionDenied):
        call(
            routing,
            "bulk_reallocate",
            {"case_ids": [case_id], "unassign": True, "reason": "x"},
            context=agent("ann"),
        )
    renewed = call(routing, "renew_claim", case_id, 3600, context=agent("ann"))
    assert renewed["assigned_to"] == "ann"
    released = call(routing, "release_case", case_id, "need help", context=agent("ann"))
    assert (released["status"], released["assigned_to"]) == ("queued", None)
    assert events(routing, "case_unassigned")[-1] == {
        "queue": "default",
        "previous_assignee": "ann",
        "reason": "released",
        "by": "ann",
    }
    with pytest.raises(Conflict):
        call(routing, "release_case", case_id, context=agent("ann"))


def test_invisible_cases_answer_not_found_and_are_never_claimed(routing: Any) -> None:
    secret = open_case(routing, team="fraud", restricted=True)
    assert call(routing, "claim_next", context=agent("ann", teams="fraud")) is None
    with pytest.raises(NotFound):
        call(routing, "case_routing", secret, context=agent("ann"))
    with pytest.raises(NotFound):
        call(routing, "release_case", secret, context=agent("ann"))
    assert call(routing, "queue_items", "default", {}, context=agent("ann"))["items"] == []
    assert call(routing, "case_routing", secret, context=ADMIN)["work_item"]["team"] == "fraud"


def test_supervisors_assign_reassign_and_each_change_is_in_the_history(routing: Any) -> None:
    case_id = open_case(routing)
    with pytest.raises(InvalidInput) as caught:
        call(routing, "assign_case", case_id, "zed", context=SUPERVISOR)
    assert caught.value.fields[0]["field"] == "assignee"
    assert (
        call(routing, "assign_case", case_id, "ann", "first", context=SUPERVISOR)["assigned_via"] == "assign"
    )
    moved = call(routing, "assign_case", case_id, "bob", "ann is overloaded", context=SUPERVISOR)
    assert (moved["assigned_to"], moved["assigned_via"], moved["lease_expires_at"]) == (
        "bob",
        "reassign",
        None,
    )
    call(routing, "put_agent", "ann", {"availability": "off"}, context=SUPERVISOR)
    with pytest.raises(Conflict):
        call(routing, "assign_case", case_id, "ann", context=SUPERVISOR)
    assert (
        call(routing, "assign_case", case_id, "ann", "back", True, context=SUPERVISOR)["assigned_to"] == "ann"
    )
    history = call(routing, "case_routing", case_id, context=SUPERVISOR)["assignments"]
    assert [(h["action"], h["assignee"], h["previous_assignee"], h["by"], h["reason"]) for h in history] == [
        ("assign", "ann", None, "sup-1", "first"),
        ("unassign", None, "ann", "sup-1", "ann is overloaded"),
        ("reassign", "bob", "ann", "sup-1", "ann is overloaded"),
        ("unassign", None, "bob", "sup-1", "back"),
        ("reassign", "ann", "bob", "sup-1", "back"),
    ]
    assert [e["reason"] for e in events(routing, "case_unassigned")] == ["reassigned", "reassigned"]


def test_bulk_reallocation_deals_out_moves_and_returns_work(routing: Any) -> None:
    ids = sorted(open_case(routing) for _ in range(4))
    call(routing, "put_agent", "ann", {"capacity": 10}, context=SUPERVISOR)
    for _ in ids:
        call(routing, "claim_next", context=agent("ann"))
    call(routing, "add_queue_member", "default", "carol", "agent", context=SUPERVISOR)
    dealt = call(
        routing,
        "bulk_reallocate",
        {"from_assignee": "ann", "assignees": ["bob", "carol"], "reason": "ann on leave"},
        context=SUPERVISOR,
    )
    assert (dealt["matched"], dealt["changed"]) == (4, 4)
    assert [i["assigned_to"] for i in dealt["items"]] == ["bob", "carol", "bob", "carol"]
    assert {e["via"] for e in events(routing, "case_assigned")[-4:]} == {"bulk"}
    moved = call(
        routing,
        "bulk_reallocate",
        {"case_ids": ids[:2], "to_queue": "gas", "unassign": True, "reason": "gas"},
        context=SUPERVISOR,
    )
    assert [i["outcome"] for i in moved["items"]] == [["moved", "unassigned"], ["moved", "unassigned"]]
    assert [e["queue"] for e in events(routing, "case_queued")[-2:]] == ["gas", "gas"]
    with pytest.raises(NotFound):
        call(
            routing,
            "bulk_reallocate",
            {"case_ids": ["nope"], "unassign": True, "reason": "x"},
            context=SUPERVISOR,
        )


def test_lease_expiry_returns_items_once_even_when_two_sweepers_race(routing: Any) -> None:
    db = routing.config["DB_URL"]
    ids = [open_case(routing) for _ in range(3)]
    for _ in ids:
        call(routing, "claim_next", None, 60, context=agent("ann"))
    sql(
        db,
        "UPDATE work_items SET lease_expires_at = now() - interval '1 second' WHERE case_id = ANY(%s)",
        (ids[:2],),
    )
    assert call(routing, "expire_leases", context=ADMIN) == {"returned": 2}
    assert call(routing, "expire_leases", context=ADMIN) == {"returned": 0}
    assert [e["reason"] for e in events(routing, "case_unassigned")] == ["lease_expired", "lease_expired"]
    statuses = dict(sql(db, "SELECT case_id, status FROM work_items"))
    assert [statuses[i] for i in ids] == ["queued", "queued", "assigned"]
    with pytest.raises(PermissionDenied):
        call(routing, "expire_leases", context=agent("ann"))


def test_views_are_scored_filtered_paged_and_explained(routing: Any) -> None:
    ids = [open_case(routing, priority=p) for p in ("low", "urgent", "normal", "high", "normal")]
    page = call(routing, "queue_items", "default", {"limit": 2}, context=agent("ann"))
    first = [i["priority_name"] for i in page["items"]]
    rest = call(
        routing, "queue_items", "default", {"limit": 10, "cursor": page["next_cursor"]}, context=agent("ann")
    )
    assert first == ["urgent", "high"]
    assert [i["priority_name"] for i in rest["items"]] == ["normal", "normal", "low"] and rest[
        "next_cursor"
    ] is None
    scores = [i["score"]["score"] for i in page["items"] + rest["items"]]
    assert scores == sorted(scores, reverse=True)
    only = call(routing, "queue_items", "default", {"priority": "normal"}, context=agent("ann"))["items"]
    assert len(only) == 2
    with pytest.raises(InvalidInput):
        call(routing, "queue_items", "default", {"status": "everything"}, context=agent("ann"))

    explained = call(routing, "explain_item", "default", ids[0], context=agent("ann"))
    assert explained["position"] == 5 and "4 queued item(s) ahead" in explained["summary"]
    assert explained["routing"]["summary"] == "no rule matched; the default queue default"
    with pytest.raises(NotFound):
        call(routing, "explain_item", "gas", ids[0], context=agent("ann"))

    call(routing, "claim_next", context=agent("ann"))
    mine = call(routing, "my_work", {}, context=agent("ann"))["items"]
    assert [i["case_id"] for i in mine] == [ids[1]]
    overview = call(routing, "queue_overview", "default", context=SUPERVISOR)
    assert (overview["queued"], overview["assigned"]) == (4, 1)
    assert {a["user_id"]: a["load_in_queue"] for a in overview["agents"]}["ann"] == 1
    queues = {q["name"]: q for q in call(routing, "list_queues", context=agent("ann"))}
    assert (queues["default"]["queued"], queues["default"]["assigned"]) == (4, 1)


def test_sla_actions_move_and_raise_priority_idempotently(routing: Any) -> None:
    case_id = open_case(routing, priority="low")
    container_db = routing.config["DB_URL"]
    from sqlalchemy.orm import sessionmaker

    from casekit.context import Principal
    from casekit.db import make_engine
    from casekit.outbox import EventWriter
    from services.routing.models import outbox

    writer = EventWriter("routing", outbox, Principal.system("sla"))
    session = sessionmaker(bind=make_engine(container_db, pool_size=1))()
    try:
        assert raise_priority(
            session=session, events=writer, case_id=case_id, priority="high", reason="breach"
        )
        assert not raise_priority(
            session=session, events=writer, case_id=case_id, priority="normal", reason="x"
        )
        assert move_to_queue(
            session=session, events=writer, case_id=case_id, queue="escalated", reason="breach"
        )
        assert not move_to_queue(
            session=session, events=writer, case_id=case_id, queue="escalated", reason="x"
        )
        session.commit()
    finally:
        session.close()
    got = call(routing, "get_work_item", case_id, context=ADMIN)
    assert (got["queue"], got["priority_name"]) == ("escalated", "high")
    queued = events(routing, "case_queued")
    assert [(e["queue"], e["priority"]) for e in queued] == [
        ("default", "low"),
        ("default", "high"),
        ("escalated", "high"),
    ]
    decisions = call(routing, "case_routing", case_id, context=ADMIN)["decisions"]
    assert [d["trigger"] for d in decisions] == ["case_opened", "raise_priority", "move_queue"]
