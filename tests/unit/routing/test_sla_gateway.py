"""The SLA routes of the gateway: what they ask routing, who may edit, what bad input gets."""

from __future__ import annotations

import pytest

from casekit.errors import NotFound
from tests.unit.gateway.helpers import Gateway


@pytest.fixture
def gw() -> Gateway:
    gateway = Gateway()
    gateway.add_user("ann", ["agent"])
    gateway.add_user("root", ["admin"])
    return gateway


def test_a_case_clocks_and_the_at_risk_list_pass_through(gw: Gateway) -> None:
    gw.rpc.answers[("routing", "case_clocks")] = lambda case_id: {"case_id": case_id, "clocks": []}
    got = gw.client.get("/api/v1/cases/c-1/sla", headers=gw.auth("ann"))
    assert (got.status_code, got.json) == (200, {"case_id": "c-1", "clocks": []})
    gw.rpc.answers[("routing", "sla_at_risk")] = {"items": []}
    assert (
        gw.client.get("/api/v1/sla/at-risk?queue=default&within=60", headers=gw.auth("ann")).status_code
        == 200
    )
    assert gw.rpc.calls[-1][1:4] == ("routing", "sla_at_risk", ("default", 60, 50))
    assert gw.client.get("/api/v1/sla/at-risk?within=-1", headers=gw.auth("ann")).status_code == 422
    gw.rpc.answers[("routing", "case_clocks")] = NotFound("case x has no SLA clocks")
    missing = gw.client.get("/api/v1/cases/x/sla", headers=gw.auth("ann"))
    assert (missing.status_code, missing.json["code"]) == (404, "NOT_FOUND")
    assert gw.client.get("/api/v1/cases/x/sla").status_code == 401


def test_only_admins_edit_calendars_and_policies(gw: Gateway) -> None:
    body = {"timezone": "Europe/London", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["12-25"]}
    denied = gw.client.put("/api/v1/calendars/uk-office", json=body, headers=gw.auth("ann"))
    assert denied.status_code == 403 and not gw.rpc.calls
    gw.rpc.answers[("routing", "put_calendar")] = lambda name, definition, pre: {"name": name, **definition}
    saved = gw.client.put("/api/v1/calendars/uk-office", json=body, headers=gw.auth("root"))
    assert saved.status_code == 200
    none = {"if_match": None, "if_none_match": None}
    assert gw.rpc.calls[-1][1:4] == (
        "routing",
        "put_calendar",
        ("uk-office", {**body, "description": ""}, none),
    )
    policy = {"calendar": "uk-office", "clocks": {"resolution": {"target_hours": 40}}}
    gw.rpc.answers[("routing", "put_sla_policy")] = lambda key, definition, pre: {"case_type": key}
    assert gw.client.put("/api/v1/sla/policies/*", json=policy, headers=gw.auth("root")).status_code == 200
    assert gw.rpc.calls[-1][1:4] == ("routing", "put_sla_policy", ("*", policy, none))
    assert gw.client.put("/api/v1/sla/policies/*", json=policy, headers=gw.auth("ann")).status_code == 403


def test_bad_calendar_and_policy_bodies_are_422_before_routing_is_asked(gw: Gateway) -> None:
    admin = gw.auth("root")
    for path, body in [
        ("/api/v1/calendars/uk-office", {"hours": {"mon": ["09:00-17:00"]}}),  # no time zone
        ("/api/v1/calendars/uk-office", {"timezone": "UTC", "hours": {}, "colour": "red"}),
        ("/api/v1/calendars/Not%20A%20Name", {"timezone": "UTC", "hours": {}}),
        ("/api/v1/sla/policies/complaint", {"clocks": {}, "extra": 1}),
        ("/api/v1/sla/policies/Bad%20Type", {"clocks": {}}),
    ]:
        response = gw.client.put(path, json=body, headers=admin)
        assert response.status_code == 422, (path, response.json)
    assert gw.rpc.calls == []
