"""Case type definitions: every invalid definition is named by field and rule; the questions
logic asks of a valid one (transitions, checklists, SLA, milestones) have the documented answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from casekit.errors import InvalidInput
from services.cases.definitions import Definition, holds, validate_definition

DEMO = Path(__file__).resolve().parents[3] / "deploy" / "demo"


def base(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "claim",
        "name": "Claim",
        "prefix": "CLM",
        "stages": [
            {"key": "received", "checklist": [{"key": "id", "title": "ID", "required": True}]},
            {"key": "done"},
        ],
        **overrides,
    }


def errors(definition: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        validate_definition(definition)
    return {e["field"]: e["message"] for e in caught.value.fields}


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        (
            {"transitions": [{"from": "received", "to": "nowhere"}]},
            "definition.transitions.0.to",
            "not a stage",
        ),
        (
            {"transitions": [{"from": "received", "to": "done", "roles": ["boss"]}]},
            "definition.transitions.0.roles.0",
            "is not one of",
        ),
        ({"transitions": [{"from": "received"}]}, "definition.transitions.0", "'to' is a required property"),
        ({"stages": [{"key": "a"}, {"key": "a"}]}, "definition.stages.1.key", "duplicate"),
        ({"stages": []}, "definition.stages", "should be non-empty"),
        (
            {"stages": [{"key": "a", "checklist": [{"key": "x"}]}]},
            "definition.stages.0.checklist.0",
            "'title' is a required property",
        ),
        ({"sla": {"someday": {"received": 4}}}, "definition.sla", "is not one of"),
        (
            {"sla": {"high": {"received": -4}}},
            "definition.sla.high.received",
            "less than or equal to the minimum",
        ),
        ({"sla": {"high": {"nowhere": 4}}}, "definition.sla.high.nowhere", "is not a stage"),
        ({"retention_days": -1}, "definition.retention_days", "less than the minimum of 0"),
        ({"retention_days": "forever"}, "definition.retention_days", "is not of type 'integer'"),
        ({"resolutions": []}, "definition.resolutions", "should be non-empty"),
        (
            {"tasks": [{"key": "a", "title": "A"}, {"key": "a", "title": "B"}]},
            "definition.tasks.1.key",
            "duplicate",
        ),
        (
            {"milestones": [{"key": "m", "when": {"stage": "nowhere"}}]},
            "definition.milestones.0.when.stage",
            "not a stage",
        ),
        (
            {"milestones": [{"key": "m", "when": {"colour": "red"}}]},
            "definition.milestones.0.when",
            "Additional properties are not allowed",
        ),
        (
            {"data_schema": {"type": "object", "required": ["amount"]}, "intake_channels": ["email"]},
            "definition.intake_channels",
            "must accept {}",
        ),
    ],
)
def test_an_invalid_definition_names_the_field_and_the_rule(overrides: dict, field: str, rule: str) -> None:
    found = errors(base(**overrides))
    assert field in found, found
    assert rule in found[field]


def test_the_demo_definitions_are_valid() -> None:
    for path in DEMO.glob("*.yaml"):
        definition = yaml.safe_load(path.read_text())
        assert validate_definition(definition) is definition, path


def test_without_transitions_each_stage_leads_to_the_next_for_staff() -> None:
    d = Definition("claim", 1, base(stages=[{"key": "a"}, {"key": "b"}, {"key": "c"}]))
    assert [(t["from"], t["to"]) for t in d.transitions] == [("a", "b"), ("b", "c")]
    assert d.transition("a", "c") is None
    assert d.transition("a", "b")["roles"] == ["agent", "supervisor", "admin"]
    assert d.resolutions == ["resolved"]


def test_sla_targets_fall_back_to_any_stage_then_any_priority() -> None:
    d = Definition("claim", 1, base(sla={"high": {"received": 8, "*": 48}, "*": {"*": 100}}))
    assert d.sla_hours("high", "received") == 8
    assert d.sla_hours("high", "done") == 48
    assert d.sla_hours("low", "received") == 100
    assert Definition("claim", 1, base()).sla_hours("high", "received") is None


def test_custom_data_errors_name_the_field_and_rule() -> None:
    d = Definition(
        "claim",
        1,
        base(
            data_schema={
                "type": "object",
                "required": ["amount"],
                "properties": {
                    "amount": {"type": "number", "minimum": 0},
                    "kind": {"enum": ["water", "fire"]},
                    "email": {"type": "string", "format": "email"},
                },
            }
        ),
    )
    found = {e["field"]: e["message"] for e in d.data_errors({"kind": "flood", "email": "x"})}
    assert found == {
        "data": "'amount' is a required property",
        "data.kind": "'flood' is not one of ['water', 'fire']",
        "data.email": "'x' is not a 'email'",
    }
    with pytest.raises(InvalidInput):
        d.check_data({"amount": -1})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"stage": "received"}, True),
        ({"stage": "done"}, False),
        ({"field": "amount", "present": True}, True),
        ({"field": "data.missing", "present": False}, True),
        ({"field": "amount", "min": 100}, True),
        ({"field": "amount", "min": 1000}, False),
        ({"field": "kind", "equals": "water"}, True),
        ({"tasks_done": ["id"]}, True),
        ({"tasks_done": ["id", "other"]}, False),
        ({"all": [{"stage": "received"}, {"field": "amount", "min": 1000}]}, False),
    ],
)
def test_milestone_conditions(condition: dict, expected: bool) -> None:
    data = {"amount": 500, "kind": "water"}
    assert holds(condition, data=data, stage="received", done_tasks={"id"}) is expected
