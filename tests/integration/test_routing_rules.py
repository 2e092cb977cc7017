"""Routing rules against real PostgreSQL and RabbitMQ: placement, re-evaluation, explain, versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from casekit.errors import Conflict, InvalidInput, PermissionDenied
from services.routing.service import RoutingService
from tests.integration.helpers import call, sql
from tests.integration.routing_helpers import ADMIN, SUPERVISOR, a_case, agent, deliver

pytestmark = pytest.mark.integration

RULES = {
    "default_queue": "default",
    "queues": [{"name": "billing", "title": "Billing"}, {"name": "vip"}, {"name": "french"}],
    "rules": [
        {
            "id": "vip-organisations",
            "when": {"party": {"role": "customer", "kind": "organisation", "email_domain": "bigcorp.com"}},
            "then": {"queue": "vip", "priority_boost": 1},
        },
        {
            "id": "big-gas",
            "description": "gas complaints of 1000 or more",
            "when": {"case_type": "complaint", "data": {"product": "gas", "amount": {"gte": 1000}}},
            "then": {"queue": "billing", "skills": ["gas"]},
        },
        {
            "id": "french-email",
            "when": {"channel": ["email"], "data": {"language": "fr"}, "stage": "received"},
            "then": {"queue": "french", "language": "fr"},
        },
        {"id": "urgent", "enabled": False, "when": {"priority": ["urgent"]}, "then": {"queue": "vip"}},
    ],
}


@pytest.fixture
def routing(start_service: Callable[..., Any]) -> Any:
    container = start_service(RoutingService, db="routing")
    call(container, "put_rules", RULES, context=ADMIN)
    return container


def item(routing: Any, case_id: str) -> dict[str, Any]:
    return call(routing, "get_work_item", case_id, context=ADMIN)


def test_custom_fields_choose_the_queue_skills_and_explain_says_why(routing: Any) -> None:
    case = a_case(data={"product": "gas", "amount": 1500})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    got = item(routing, case["id"])
    assert (got["queue"], got["rule"], got["required_skills"]) == ("billing", "big-gas", ["gas"])

    explained = call(routing, "case_routing", case["id"], context=ADMIN)["explain"]
    verdicts = {r["rule"]: r for r in explained["rules"]}
    assert explained["queue"] == "billing" and "big-gas" in explained["summary"]
    assert verdicts["big-gas"]["outcome"] == "chosen"
    assert verdicts["vip-organisations"]["outcome"] == "not matched: party"
    assert verdicts["vip-organisations"]["checks"][0]["detail"] == "the case has no parties"
    assert verdicts["french-email"]["matched"] is False
    assert {c["field"]: c["ok"] for c in verdicts["french-email"]["checks"]} == {
        "channel": False,
        "stage": True,
        "data.language": False,
    }
    assert verdicts["urgent"]["outcome"] == "disabled"
    [(queue, rule, trigger)] = sql(
        routing.config["DB_URL"],
        "SELECT queue, rule, trigger FROM routing_decisions WHERE case_id = %s",
        (case["id"],),
    )
    assert (queue, rule, trigger) == ("billing", "big-gas", "case_opened")


def test_a_small_gas_complaint_falls_through_to_the_default_queue(routing: Any) -> None:
    case = a_case(data={"product": "gas", "amount": 999})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    explained = call(routing, "case_routing", case["id"], context=ADMIN)["explain"]
    assert item(routing, case["id"])["queue"] == "default"
    assert explained["rule"] is None and "no rule matched" in explained["summary"]
    [gte] = [
        c
        for r in explained["rules"]
        if r["rule"] == "big-gas"
        for c in r["checks"]
        if c["field"] == "data.amount"
    ]
    assert gte["ok"] is False and "999" in gte["detail"] and "gte 1000" in gte["detail"]


def test_party_attributes_match_and_boost_the_priority(routing: Any) -> None:
    customer = {"role": "customer", "kind": "organisation", "name": "Big Corp", "emails": ["ceo@bigcorp.com"]}
    case = a_case(priority="normal", parties=[customer], data={"product": "gas", "amount": 5000})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    got = item(routing, case["id"])
    assert (got["queue"], got["priority_name"], got["rule"]) == ("vip", "high", "vip-organisations")
    verdicts = {
        r["rule"]: r["outcome"]
        for r in call(routing, "case_routing", case["id"], context=ADMIN)["explain"]["rules"]
    }
    assert verdicts["big-gas"] == "matched, but rule 'vip-organisations' comes first"


def test_channel_stage_and_language_rules_require_a_speaker(routing: Any) -> None:
    case = a_case(channel="email", data={"language": "fr"})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    assert item(routing, case["id"])["required_skills"] == ["lang:fr"]


def test_a_change_a_rule_cares_about_reroutes_and_other_changes_do_not(routing: Any) -> None:
    db = routing.config["DB_URL"]
    case = a_case(data={"product": "gas", "amount": 10})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    assert item(routing, case["id"])["queue"] == "default"

    deliver(routing, "sync_case_updated", "case_updated", {**case, "title": "New title"}, 2)
    assert item(routing, case["id"])["title"] == "New title"
    assert sql(db, "SELECT count(*) FROM routing_decisions WHERE case_id = %s", (case["id"],)) == [(1,)]

    bigger = {**case, "title": "New title", "data": {"product": "gas", "amount": 2000}}
    deliver(routing, "sync_case_updated", "case_updated", bigger, 3)
    got = item(routing, case["id"])
    assert (got["queue"], got["case_version"]) == ("billing", 3)
    rows = sql(db, "SELECT payload FROM outbox WHERE type = 'case_queued' ORDER BY id")
    assert [r[0]["data"]["queue"] for r in rows] == ["default", "billing"]
    assert rows[-1][0]["data"]["previous_queue"] == "default" and rows[-1][0]["data"]["rule"] == "big-gas"

    deliver(routing, "sync_case_updated", "case_updated", case, 2)  # stale: older than what we have
    assert item(routing, case["id"])["queue"] == "billing"

    customer = {"role": "customer", "kind": "organisation", "name": "Big", "emails": ["a@bigcorp.com"]}
    deliver(routing, "sync_party_added", "party_added", {**bigger, "parties": [customer]}, 4)
    assert item(routing, case["id"])["queue"] == "vip"


def test_a_closed_case_leaves_the_queue_and_a_reopened_one_returns(routing: Any) -> None:
    db = routing.config["DB_URL"]
    case = a_case()
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    call(routing, "add_queue_member", "default", "ann", "agent", context=SUPERVISOR)
    assert call(routing, "claim_next", context=agent("ann"))["case_id"] == case["id"]
    deliver(routing, "sync_case_closed", "case_closed", {**case, "status": "closed"}, 2)
    got = item(routing, case["id"])
    assert (got["status"], got["assigned_to"]) == ("closed", None)
    assert call(routing, "queue_items", "default", {"status": "open"}, context=ADMIN)["items"] == []
    [(data,)] = sql(db, "SELECT payload->'data' FROM outbox WHERE type = 'case_unassigned'")
    assert (data["reason"], data["previous_assignee"]) == ("closed", "ann")

    deliver(routing, "sync_case_reopened", "case_reopened", {**case, "status": "open"}, 3)
    assert item(routing, case["id"])["status"] == "queued"


def test_rules_are_validated_with_precise_fields_and_versioned(routing: Any) -> None:
    bad = {
        "rules": [
            {"id": "ok", "then": {"queue": "billing"}},
            {"id": "Bad Id", "when": {"priority": ["urgentest"], "data": {"x": {"between": 1}}}, "then": {}},
        ]
    }
    with pytest.raises(InvalidInput) as caught:
        call(routing, "put_rules", bad, context=ADMIN)
    fields = {f["field"] for f in caught.value.fields}
    assert {"rules.1.id", "rules.1.then.queue", "rules.1.when.data"} <= fields
    assert any(f.startswith("rules.1.when.priority") for f in fields)

    with pytest.raises(InvalidInput) as caught:
        call(routing, "put_rules", {"rules": [{"id": "x", "then": {"queue": "nowhere"}}]}, context=ADMIN)
    assert caught.value.fields == [{"field": "rules.0.then.queue", "message": "unknown queue 'nowhere'"}]

    with pytest.raises(PermissionDenied):
        call(routing, "put_rules", RULES, context=SUPERVISOR)
    current = call(routing, "get_rules", context=agent("ann"))
    assert current["version"] == 1 and [r["id"] for r in current["rules"]][:2] == [
        "vip-organisations",
        "big-gas",
    ]
    with pytest.raises(Conflict):
        call(routing, "put_rules", {"rules": []}, 7, context=ADMIN)
    assert call(routing, "put_rules", {"rules": []}, 1, context=ADMIN)["version"] == 2
    assert call(routing, "get_rules", 1, context=ADMIN)["rules"][1]["id"] == "big-gas"
    case = a_case(data={"product": "gas", "amount": 5000})
    deliver(routing, "handle_case_opened", "case_opened", case, 1)
    assert item(routing, case["id"])["queue"] == "default", "version 2 has no rules"
