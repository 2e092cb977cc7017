"""The routing rule language: validation with precise fields, matching, explanations."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from casekit.errors import InvalidInput
from casekit.testing import infra
from services.routing.logic.agents import AgentIn
from services.routing.logic.rules import case_facts, check_condition, parse_rules, route, watched_fields


def facts(**over: Any) -> dict[str, Any]:
    base = {
        "case_type": "complaint",
        "priority": "normal",
        "channel": "web",
        "stage": "received",
        "team": None,
        "data": {},
        "parties": [],
    }
    return {**base, **over}


def doc(*rules: dict[str, Any], default: str = "default") -> Any:
    return parse_rules({"default_queue": default, "rules": list(rules)})


def fields_of(document: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_rules(document)
    return {f["field"]: f["message"] for f in caught.value.fields}


@pytest.mark.parametrize(
    ("when", "case", "expected"),
    [
        ({"case_type": "complaint"}, facts(), True),
        ({"case_type": ["benefit", "claim"]}, facts(), False),
        ({"priority": ["high", "urgent"]}, facts(priority="urgent"), True),
        ({"priority": ["high", "urgent"]}, facts(priority="low"), False),
        ({"channel": "email"}, facts(channel="email"), True),
        ({"stage": ["received"]}, facts(stage="investigating"), False),
        ({"team": "billing"}, facts(team=None), False),
        ({"data": {"product": "gas"}}, facts(data={"product": "gas"}), True),
        ({"data": {"amount": {"gte": 100, "lt": 200}}}, facts(data={"amount": 150}), True),
        ({"data": {"amount": {"gte": 100, "lt": 200}}}, facts(data={"amount": 200}), False),
        ({"data": {"amount": {"gt": 1}}}, facts(data={"amount": "lots"}), False),
        (
            {"data": {"address.city": {"in": ["Leeds", "York"]}}},
            facts(data={"address": {"city": "York"}}),
            True,
        ),
        ({"data": {"vip": {"exists": True}}}, facts(data={}), False),
        ({"data": {"vip": {"exists": False}}}, facts(data={}), True),
        ({"data": {"tags": {"contains": "fraud"}}}, facts(data={"tags": ["fraud", "x"]}), True),
        ({"data": {"product": {"ne": "gas"}}}, facts(data={}), True),
        (
            {"party": {"country": "FR"}},
            facts(parties=[{"address": {"country": "FR"}, "role": "customer"}]),
            True,
        ),
        ({"party": {"email_domain": "corp.com"}}, facts(parties=[{"emails": ["A@Corp.com"]}]), True),
        (
            {"party": {"role": "customer", "kind": "organisation"}},
            facts(parties=[{"role": "customer", "kind": "person"}]),
            False,
        ),
        ({}, facts(), True),
    ],
)
def test_each_condition_kind_matches_as_documented(when: dict, case: dict, expected: bool) -> None:
    rule, explain = route(doc({"id": "r", "when": when, "then": {"queue": "q"}}), case)
    assert (rule is not None) is expected
    assert explain["queue"] == ("q" if expected else "default")
    assert explain["rules"][0]["matched"] is expected


def test_the_first_matching_enabled_rule_wins_and_every_rule_is_explained() -> None:
    rules = doc(
        {"id": "off", "enabled": False, "when": {}, "then": {"queue": "a"}},
        {"id": "gas", "when": {"data": {"product": "gas"}}, "then": {"queue": "b"}},
        {"id": "any", "when": {}, "then": {"queue": "c"}},
        {"id": "never", "when": {"channel": "fax"}, "then": {"queue": "d"}},
    )
    rule, explain = route(rules, facts(data={"product": "gas"}))
    assert rule.id == "gas"
    assert [r["outcome"] for r in explain["rules"]] == [
        "disabled",
        "chosen",
        "matched, but rule 'gas' comes first",
        "not matched: channel",
    ]
    assert explain["summary"] == "rule 'gas' (#2) sent it to b"
    assert explain["rules"][3]["checks"] == [
        {"field": "channel", "ok": False, "detail": "'web' is not one of ['fax']"}
    ]


def test_no_match_goes_to_the_default_queue_and_says_so() -> None:
    rule, explain = route(
        doc({"id": "x", "when": {"case_type": "benefit"}, "then": {"queue": "q"}}, default="inbox"), facts()
    )
    assert rule is None and explain["queue"] == "inbox"
    assert explain["summary"] == "no rule matched; the default queue inbox"


def test_party_explanations_name_the_failing_party_and_attribute() -> None:
    parties = [{"name": "Ann", "role": "customer", "kind": "person"}]
    _, explain = route(
        doc({"id": "org", "when": {"party": {"kind": "organisation"}}, "then": {"queue": "q"}}),
        facts(parties=parties),
    )
    [check] = explain["rules"][0]["checks"]
    assert check["ok"] is False and "'Ann'" in check["detail"] and "kind" in check["detail"]


def test_validation_names_each_bad_field() -> None:
    fields = fields_of(
        {
            "rules": [
                {"id": "fine", "then": {"queue": "ok"}},
                {
                    "id": "Not An Id",
                    "when": {"priority": "sometimes", "data": {"amount": {"around": 3}}, "colour": "red"},
                    "then": {"queue": "ok", "priority_boost": 9, "language": "French"},
                },
            ]
        }
    )
    assert "rules.1.id" in fields
    assert "rules.1.when.colour" in fields
    assert "rules.1.when.data" in fields and "unknown operator 'around'" in fields["rules.1.when.data"]
    assert "rules.1.then.priority_boost" in fields
    assert "rules.1.then.language" in fields
    assert any(f.startswith("rules.1.when.priority") for f in fields)
    assert not any(f.startswith("rules.0") for f in fields)


def test_validation_refuses_duplicate_ids_unknown_party_attributes_and_empty_lists() -> None:
    assert "twice" in " ".join(fields_of({"rules": [{"id": "a", "then": {"queue": "q"}}] * 2}).values())
    assert "rules.0.when.party" in fields_of(
        {"rules": [{"id": "a", "when": {"party": {"shoe": 1}}, "then": {"queue": "q"}}]}
    )
    assert "rules.0.when.case_type" in fields_of(
        {"rules": [{"id": "a", "when": {"case_type": []}, "then": {"queue": "q"}}]}
    )
    assert "rules.0.then" in fields_of({"rules": [{"id": "a"}]})


def test_check_condition_reports_missing_fields() -> None:
    assert check_condition({"gte": 3}, False, None) == (False, "missing (gte 3)")
    assert check_condition("gas", True, "oil") == (False, "'oil' is not 'gas'")


def test_watched_fields_are_what_the_rules_look_at() -> None:
    rules = doc(
        {"id": "a", "when": {"stage": "x", "data": {"amount": 1}}, "then": {"queue": "q"}},
        {"id": "b", "when": {"party": {"role": "customer"}}, "then": {"queue": "q"}},
    )
    assert watched_fields(rules) == {"stage", "data.amount", "parties"}


def test_case_facts_come_from_the_work_item_copy() -> None:
    item = SimpleNamespace(
        case_type="complaint",
        base_priority=4,
        channel="sms",
        stage="s",
        team="t",
        case_data={"a": 1},
        parties=[],
    )
    assert case_facts(item)["priority"] == "urgent" and case_facts(item)["data"] == {"a": 1}


def test_the_demo_rule_file_is_a_valid_body_for_put_routing_rules() -> None:
    """The README's tour PUTs deploy/demo/routing/rules.yaml as it stands: it must parse as a rule
    set (no seeding-only keys), and the demo admin's profile beside it as an agent profile."""
    demo = infra.ROOT / "deploy" / "demo" / "routing"
    doc = parse_rules(yaml.safe_load((demo / "rules.yaml").read_text()))
    assert doc.default_queue == "default" and len(doc.rules) >= 5
    assert {q.name for q in doc.queues} >= {rule.then.queue for rule in doc.rules}
    AgentIn.model_validate(yaml.safe_load((demo / "admin.yaml").read_text()))
