"""SLA clocks through the whole suite: a breach fires once with two routing replicas running,
and a breach that fell due while routing was down fires once, at its own instant, on restart."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e

SQL = Callable[[str, str, tuple], list[tuple]]
ALWAYS = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def case_type(admin: Client, first_response_hours: float) -> str:
    """A case type of its own with a policy whose first response is due in seconds."""
    key = f"sla-{uuid.uuid4().hex[:8]}"
    ok(
        admin.post(
            "/api/v1/case-types",
            json={
                "key": key,
                "name": "SLA e2e",
                "prefix": "SLAE",
                "stages": [{"key": "new"}, {"key": "pending"}, {"key": "working"}],
                "sla": {"*": {"new": 0.5, "working": 8}},
            },
        ),
        201,
    )
    policy = {
        "calendar": "e2e-always",
        "pause": {"stages": ["pending"]},
        "clocks": {
            "first_response": {
                "target_hours": first_response_hours,
                "stop_on": ["agent_response"],
                "warn_at": [0.5],
                "on_breach": ["notify", "raise_priority"],
            },
            "resolution": {"target_hours": {"high": 2, "*": 40}},
            "stage": {"target_hours": "case_type"},
        },
    }
    ok(admin.request("PUT", f"/api/v1/sla/policies/{key}", json=policy))
    return key


def open_case(client: Client, kind: str) -> dict[str, Any]:
    return ok(
        client.post("/api/v1/cases", json={"type": kind, "title": "Clock e2e", "priority": "normal"}), 201
    )


def sla(client: Client, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}/sla")
    return response.json() if response.status_code == 200 else {}


def clock(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next((c for c in view.get("clocks", []) if c["name"] == name), {})


def consumers(suite: Suite, queue: str) -> int:
    found = {q["name"]: q for q in infra.queues(suite.env["CASEWORK_VHOST"])}
    return int(found.get(queue, {}).get("consumers", 0))


@pytest.fixture(scope="module", autouse=True)
def calendar(admin: Client) -> str:
    ok(admin.request("PUT", "/api/v1/calendars/e2e-always", json={"timezone": "UTC", "hours": ALWAYS}))
    return "e2e-always"


def test_calendars_and_policies_over_http(admin: Client, agent: Client, calendar: str) -> None:
    names = {c["name"] for c in ok(admin.get("/api/v1/calendars"))["items"]}
    assert {"uk-office", "24x7", calendar} <= names  # uk-office comes from deploy/demo/sla/calendars.yaml
    uk = ok(agent.get("/api/v1/calendars/uk-office"))
    assert uk["timezone"] == "Europe/London" and uk["hours"]["mon"] == ["09:00-17:00"]
    forbidden = agent.request("PUT", "/api/v1/calendars/uk-office", json={"timezone": "UTC", "hours": ALWAYS})
    assert forbidden.status_code == 403
    bad = admin.request(
        "PUT", "/api/v1/calendars/broken", json={"timezone": "Mars/Base", "hours": {"mon": ["17:00-09:00"]}}
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"calendar.timezone", "calendar.hours.mon.0"}
    assert admin.get("/api/v1/calendars/broken").status_code == 404
    # the policy in force for a type (its own, or inherited from "*"); other e2e modules may edit
    # "*" (the schemathesis run PUTs generated policies), so only its shape is checked here
    read = ok(agent.get("/api/v1/sla/policies/complaint"))
    assert read["case_type"] == "complaint" and isinstance(read["policy"], dict)
    assert isinstance(read["inherited"], bool)
    bad_policy = admin.request(
        "PUT", "/api/v1/sla/policies/complaint", json={"clocks": {"x": {"target_hours": -1}}}
    )
    assert bad_policy.status_code == 422 and bad_policy.json()["errors"][0]["field"].startswith(
        "policy.clocks.x"
    )
    assert agent.get(f"/api/v1/cases/{uuid.uuid4()}/sla").status_code == 404
    assert ok(agent.get("/api/v1/sla/at-risk?queue=default"))["queue"] == "default"
    assert agent.get("/api/v1/sla/at-risk?queue=nowhere").status_code == 404


def test_a_breach_fires_exactly_once_with_two_routing_replicas(
    suite: Suite, admin: Client, agent: Client, sql: SQL
) -> None:
    kind = case_type(admin, first_response_hours=0.0005)  # 1.8 s
    slow = case_type(admin, first_response_hours=1)
    replica = suite.add_replica("routing")
    suite.start([replica])
    try:
        eventually(lambda: consumers(suite, "rpc-routing") == 2, timeout=60, interval=0.5)
        answered, paused = open_case(agent, slow)["id"], open_case(agent, slow)["id"]
        cases = [answered, paused] + [open_case(agent, kind)["id"] for _ in range(4)]
        # an answered case's first response stops; a pending case's pauses
        note = agent.post(
            f"/api/v1/cases/{answered}/notes", json={"body": "On it"}, headers={"If-Match": '"1"'}
        )
        ok(note)
        moved = agent.post(
            f"/api/v1/cases/{paused}/transitions", json={"to": "pending"}, headers={"If-Match": '"1"'}
        )
        ok(moved)
        breaching = cases[2:]
        for case_id in breaching:
            eventually(
                lambda c=case_id: clock(sla(agent, c), "first_response").get("breached_at"), timeout=60
            )
        # let both replicas look several more times: wait for a later fact, the warning of a
        # clock started after every breach above
        later = open_case(agent, kind)["id"]
        eventually(lambda: clock(sla(agent, later), "first_response").get("breached_at"), timeout=60)
        counts = dict(
            sql(
                "routing",
                "SELECT payload->>'case_id', count(*) FROM outbox WHERE type = 'sla_breached' "
                "AND payload->'data'->>'clock' = 'first_response' AND payload->>'case_id' = ANY(%s) "
                "GROUP BY 1",
                (cases,),
            )
        )
        assert counts == dict.fromkeys(breaching, 1), counts
        warned = sql(
            "routing",
            "SELECT count(*) FROM sla_history h JOIN sla_clocks c ON c.id = h.clock_id "
            "WHERE c.name = 'first_response' AND h.kind = 'warned' AND h.case_id = ANY(%s)",
            (breaching,),
        )
        assert warned == [(len(breaching),)]
        first = clock(sla(agent, answered), "first_response")
        assert (first["status"], first["breached_at"]) == ("met", None)
        view = sla(agent, paused)
        assert (
            clock(view, "first_response")["state"] == "paused" and view["paused_by"] == "stage became pending"
        )
        story = [
            line["text"] for line in sla(agent, breaching[0])["story"] if line["clock"] == "first_response"
        ]
        assert [s.split(" ", 1)[0] for s in story] == ["started", "warned", "breached"]
        assert "priority raised to high" in story[2]
        escalated = sql(
            "routing",
            "SELECT payload->'data'->>'action' FROM outbox "
            "WHERE type = 'case_escalated' AND payload->>'case_id' = %s",
            (breaching[0],),
        )
        assert sorted(a for (a,) in escalated) == ["notify", "raise_priority"]
        risky = ok(agent.get("/api/v1/sla/at-risk?within=0&limit=200"))["items"]
        assert {(i["case_id"], i["clock"]) for i in risky} >= {(c, "first_response") for c in breaching}
    finally:
        suite.stop([replica])


def test_a_breach_due_while_routing_was_down_fires_once_on_restart(
    suite: Suite, admin: Client, agent: Client, sql: SQL
) -> None:
    kind = case_type(admin, first_response_hours=0.004)  # 14.4 s: warned at 7.2 s
    case_id = open_case(agent, kind)["id"]
    running = eventually(lambda: clock(sla(agent, case_id), "first_response"), timeout=30, interval=0.2)
    due = datetime.fromisoformat(running["due_at"])
    suite.stop(["routing"])
    try:
        assert not clock(sla(agent, case_id), "first_response"), "routing is down: no answer"
        eventually(lambda: sql("routing", "SELECT now() > %s", (due,))[0][0], timeout=30, interval=0.5)
    finally:
        suite.start(["routing"])
    breached = eventually(lambda: clock(sla(agent, case_id), "first_response").get("breached_at"), timeout=90)
    assert datetime.fromisoformat(breached) == due, "fired at the instant it fell due, not at the restart"
    rows = sql(
        "routing",
        "SELECT h.kind, h.at, h.detail->>'noticed_at' FROM sla_history h "
        "JOIN sla_clocks c ON c.id = h.clock_id WHERE h.case_id = %s AND c.name = 'first_response' "
        "AND h.kind IN ('warned', 'breached') ORDER BY h.at",
        (case_id,),
    )
    assert [r[0] for r in rows] == ["warned", "breached"]
    assert all(datetime.fromisoformat(noticed) > at for _, at, noticed in rows)
    assert sql(
        "routing",
        "SELECT count(*) FROM outbox WHERE type = 'sla_breached' AND payload->>'case_id' = %s",
        (case_id,),
    ) == [(1,)]
