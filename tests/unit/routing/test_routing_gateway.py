"""The routing routes of the gateway: what they ask routing, who may call them, bad input."""

from __future__ import annotations

import pytest

from casekit.errors import Conflict, InvalidInput, PermissionDenied
from tests.unit.gateway.helpers import Gateway


@pytest.fixture
def gw() -> Gateway:
    gateway = Gateway()
    gateway.add_user("ann", ["agent"])
    gateway.add_user("sue", ["supervisor"])
    gateway.add_user("root", ["admin"])
    gateway.add_user("audrey", ["auditor"])
    return gateway


def test_claim_next_answers_204_when_nothing_is_left(gw: Gateway) -> None:
    gw.rpc.answers[("routing", "claim_next")] = None
    got = gw.client.post("/api/v1/work/next", json={"queue": "default"}, headers=gw.auth("ann"))
    assert got.status_code == 204 and got.data == b""
    assert gw.rpc.calls[-1][1:4] == ("routing", "claim_next", ("default", None))
    gw.rpc.answers[("routing", "claim_next")] = {"case_id": "c-1"}
    got = gw.client.post("/api/v1/work/next", json={"lease_seconds": 60}, headers=gw.auth("ann"))
    assert (got.status_code, got.json) == (200, {"case_id": "c-1"})
    assert gw.rpc.calls[-1][3] == (None, 60)
    assert (
        gw.client.post("/api/v1/work/next", json={"lease_seconds": 0}, headers=gw.auth("ann")).status_code
        == 422
    )
    assert gw.client.post("/api/v1/work/next", json={}, headers=gw.auth("audrey")).status_code == 403
    gw.rpc.answers[("routing", "claim_next")] = Conflict("you are at capacity (5 of 5 open cases)")
    full = gw.client.post("/api/v1/work/next", json={}, headers=gw.auth("ann"))
    assert (full.status_code, full.json["code"]) == (409, "CONFLICT")


def test_only_supervisors_assign_and_reallocate(gw: Gateway) -> None:
    body = {"assignee": "bob", "reason": "cover"}
    assert (
        gw.client.post("/api/v1/cases/c-1/assignment", json=body, headers=gw.auth("ann")).status_code == 403
    )
    bulk = {"from_assignee": "ann", "unassign": True, "reason": "leave"}
    assert gw.client.post("/api/v1/assignments/bulk", json=bulk, headers=gw.auth("ann")).status_code == 403
    assert not gw.rpc.calls
    gw.rpc.answers[("routing", "assign_case")] = lambda *a: {"case_id": a[0], "assigned_to": a[1]}
    got = gw.client.post("/api/v1/cases/c-1/assignment", json=body, headers=gw.auth("sue"))
    assert got.status_code == 200 and gw.rpc.calls[-1][3] == ("c-1", "bob", "cover", False)
    gw.rpc.answers[("routing", "bulk_reallocate")] = {"matched": 0, "changed": 0, "items": []}
    assert gw.client.post("/api/v1/assignments/bulk", json=bulk, headers=gw.auth("sue")).status_code == 200
    assert gw.rpc.calls[-1][3] == ({"from_assignee": "ann", "unassign": True, "reason": "leave"},)
    no_reason = gw.client.post("/api/v1/assignments/bulk", json={"unassign": True}, headers=gw.auth("sue"))
    assert no_reason.status_code == 422


def test_agents_release_their_own_work_and_the_service_refuses_others(gw: Gateway) -> None:
    gw.rpc.answers[("routing", "release_case")] = PermissionDenied(
        "only the assignee or a supervisor may release"
    )
    got = gw.client.delete("/api/v1/cases/c-9/assignment?reason=busy", headers=gw.auth("ann"))
    assert got.status_code == 403 and gw.rpc.calls[-1][3] == ("c-9", "busy")


def test_rules_are_put_as_json_or_yaml_by_admins_with_if_match(gw: Gateway) -> None:
    yaml_body = "rules:\n  - id: gas\n    when: {data: {product: gas}}\n    then: {queue: energy}\n"
    assert (
        gw.client.put(
            "/api/v1/routing/rules", data=yaml_body, content_type="application/yaml", headers=gw.auth("sue")
        ).status_code
        == 403
    )
    gw.rpc.answers[("routing", "put_rules")] = lambda doc, expected, precondition: {"version": 4, **doc}
    got = gw.client.put(
        "/api/v1/routing/rules",
        data=yaml_body,
        content_type="application/yaml",
        headers={**gw.auth("root"), "If-Match": '"3"'},
    )
    assert got.status_code == 200 and got.headers["ETag"] == '"4"'
    assert gw.rpc.calls[-1][3] == (
        {"rules": [{"id": "gas", "when": {"data": {"product": "gas"}}, "then": {"queue": "energy"}}]},
        None,
        {"if_match": [3], "if_none_match": None},
    )
    bad = gw.client.put(
        "/api/v1/routing/rules", data="rules: [", content_type="application/yaml", headers=gw.auth("root")
    )
    assert bad.status_code == 400
    gw.rpc.answers[("routing", "put_rules")] = InvalidInput(
        "the rule set names unknown queues", [{"field": "rules.0.then.queue", "message": "unknown queue 'x'"}]
    )
    refused = gw.client.put("/api/v1/routing/rules", json={"rules": []}, headers=gw.auth("root"))
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "rules.0.then.queue"


def test_views_pass_filters_and_validate_them(gw: Gateway) -> None:
    gw.rpc.answers[("routing", "queue_items")] = {"items": [], "next_cursor": None, "scored_at": "t"}
    got = gw.client.get("/api/v1/queues/energy/items?priority=high&limit=10", headers=gw.auth("ann"))
    assert got.status_code == 200
    assert gw.rpc.calls[-1][3] == ("energy", {"status": "queued", "priority": "high", "limit": 10})
    assert (
        gw.client.get("/api/v1/queues/energy/items?priority=soon", headers=gw.auth("ann")).status_code == 422
    )
    gw.rpc.answers[("routing", "put_agent")] = lambda user_id, body, pre: {"user_id": user_id, **body}
    put = gw.client.put("/api/v1/agents/ann", json={"availability": "away"}, headers=gw.auth("ann"))
    assert put.status_code == 200 and gw.rpc.calls[-1][3] == (
        "ann",
        {"availability": "away"},
        {"if_match": None, "if_none_match": None},
    )
    bad = gw.client.put("/api/v1/agents/ann", json={"availability": "asleep"}, headers=gw.auth("ann"))
    assert bad.status_code == 422


def test_supervisors_reapply_the_rules_to_the_waiting_cases(gw: Gateway) -> None:
    assert gw.client.post("/api/v1/routing/rules/reapply", json={}, headers=gw.auth("ann")).status_code == 403
    assert not gw.rpc.calls
    result = {
        "rule_set_version": 2,
        "dry_run": True,
        "examined": 1,
        "unchanged": 0,
        "kept_manual": 0,
        "moved": [{"case_id": "c-1", "reference": "R-1", "from": "default", "to": "energy", "rule": "gas"}],
        "next_after": None,
    }
    gw.rpc.answers[("routing", "reapply_rules")] = result
    got = gw.client.post("/api/v1/routing/rules/reapply", json={"dry_run": True}, headers=gw.auth("sue"))
    assert got.status_code == 200 and got.json == result
    assert gw.rpc.calls[-1][3] == (True, None)
    got = gw.client.post("/api/v1/routing/rules/reapply", json={"after": "c-1"}, headers=gw.auth("sue"))
    assert got.status_code == 200 and gw.rpc.calls[-1][3] == (False, "c-1")
    bad = gw.client.post("/api/v1/routing/rules/reapply", json={"dry_run": "maybe"}, headers=gw.auth("sue"))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "dry_run"
