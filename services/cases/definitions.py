"""Case type definitions: their schema, their checks, and the questions logic asks of them.

A definition is plain data (YAML on disk, JSONB in ``case_types``)::

    key: complaint            # the type
    name: Customer complaint
    prefix: CMP               # references CMP-2026-000001
    retention_days: 2190      # documents keep a closed case's files this long
    intake_channels: [email]  # intake opens cases of this type for these channels
    data_schema: {...}        # JSON Schema of the custom data, checked on every write
    stages:                   # the first stage is where a case starts
      - key: received
        checklist: [{key: acknowledged, title: Acknowledge receipt, required: true}]
      - key: investigating
    transitions:              # default: each stage to the next, for agents and up
      - {from: received, to: investigating, roles: [agent, supervisor]}
    milestones:               # reached once, when the condition first holds
      - {key: amount_known, when: {field: amount, present: true}}
    tasks:                    # the menu of discretionary tasks
      - {key: call_customer, title: Call the customer}
    resolutions:              # codes required on close (default: [resolved])
      - {key: upheld}
    sla:                      # target hours by priority then stage ("*" matches any)
      high: {received: 8}
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from casekit.context import ALL_ROLES
from casekit.contracts.cases import TYPE_KEY_PATTERN, Priority
from casekit.errors import InvalidInput

PREFIX_PATTERN = r"^[A-Z]{2,8}$"
DEFAULT_TRANSITION_ROLES = ["agent", "supervisor", "admin"]
DEFAULT_RESOLUTIONS = [{"key": "resolved"}]
MERGED = "merged"  # the resolution of a case merged into another

_KEY = {"type": "string", "pattern": TYPE_KEY_PATTERN}
_ROLES = {"type": "array", "items": {"enum": list(ALL_ROLES)}, "minItems": 1}
_CONDITION: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "stage": _KEY,
        "field": {"type": "string", "minLength": 1},
        "present": {"type": "boolean"},
        "equals": {},
        "min": {"type": "number"},
        "tasks_done": {"type": "array", "items": _KEY},
        "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
    },
}

CASE_TYPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["key", "name", "prefix"],
    "additionalProperties": True,
    "$defs": {"condition": _CONDITION},
    "properties": {
        "key": _KEY,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "prefix": {"type": "string", "pattern": PREFIX_PATTERN},
        "retention_days": {"type": "integer", "minimum": 0},
        "default_team": {"type": ["string", "null"]},
        "intake_channels": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z_]+$"}},
        "stages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["key"],
                "properties": {
                    "key": _KEY,
                    "name": {"type": "string"},
                    "checklist": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "title"],
                            "additionalProperties": False,
                            "properties": {
                                "key": _KEY,
                                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                "required": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
        "transitions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["from", "to"],
                "additionalProperties": False,
                "properties": {"from": _KEY, "to": _KEY, "roles": _ROLES},
            },
        },
        "milestones": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "when"],
                "additionalProperties": False,
                "properties": {"key": _KEY, "when": {"$ref": "#/$defs/condition"}},
            },
        },
        "tasks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "title"],
                "additionalProperties": False,
                "properties": {
                    "key": _KEY,
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "due_in_hours": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        },
        "resolutions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["key"],
                "properties": {"key": _KEY, "name": {"type": "string"}},
            },
        },
        "sla": {
            "type": "object",
            "propertyNames": {"enum": [*(p.value for p in Priority), "*"]},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "data_schema": {"type": "object"},
    },
}


def schema_errors(validator: Draft202012Validator, instance: Any, prefix: str) -> list[dict[str, str]]:
    """Every violation of ``validator`` in ``instance``, each naming its field (``prefix.a.0.b``)."""
    errors = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in err.absolute_path)
        errors.append({"field": f"{prefix}.{path}" if path else prefix, "message": err.message})
    return errors


def _duplicates(items: list[Any], field: str, where: str) -> list[dict[str, str]]:
    seen: set[str] = set()
    errors = []
    for i, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        if key in seen:
            errors.append({"field": f"{where}.{i}.{field}", "message": f"{key!r} is a duplicate key"})
        seen.add(key)
    return errors


def _semantic_errors(d: dict[str, Any]) -> list[dict[str, str]]:
    """Rules JSON Schema cannot say: keys unique, references to stages and tasks resolve."""
    stages = [s.get("key") for s in d.get("stages") or []]
    errors = _duplicates(d.get("stages") or [], "key", "definition.stages")
    for i, stage in enumerate(d.get("stages") or []):
        errors += _duplicates(stage.get("checklist") or [], "key", f"definition.stages.{i}.checklist")
    errors += _duplicates(d.get("tasks") or [], "key", "definition.tasks")
    errors += _duplicates(d.get("milestones") or [], "key", "definition.milestones")
    errors += _duplicates(d.get("resolutions") or [], "key", "definition.resolutions")
    for i, t in enumerate(d.get("transitions") or []):
        for end in ("from", "to"):
            if t.get(end) not in stages:
                errors.append(
                    {
                        "field": f"definition.transitions.{i}.{end}",
                        "message": f"{t.get(end)!r} is not a stage",
                    }
                )
    for priority, targets in (d.get("sla") or {}).items():
        for stage in targets if isinstance(targets, dict) else {}:
            if stage != "*" and stage not in stages:
                errors.append({"field": f"definition.sla.{priority}.{stage}", "message": "is not a stage"})
    for i, m in enumerate(d.get("milestones") or []):
        stage = (m.get("when") or {}).get("stage")
        if stage is not None and stage not in stages:
            errors.append(
                {"field": f"definition.milestones.{i}.when.stage", "message": f"{stage!r} is not a stage"}
            )
    schema = d.get("data_schema")
    if (
        d.get("intake_channels")
        and isinstance(schema, dict)
        and list(Draft202012Validator(schema).iter_errors({}))
    ):
        errors.append(
            {
                "field": "definition.intake_channels",
                "message": "intake opens cases with empty data, so data_schema must accept {}",
            }
        )
    return errors


_DEFINITION_VALIDATOR = Draft202012Validator(CASE_TYPE_SCHEMA)


def validate_definition(definition: Any) -> dict[str, Any]:
    """Return ``definition`` if valid; otherwise raise ``InvalidInput`` naming every bad field."""
    if not isinstance(definition, dict):
        raise InvalidInput.from_field("definition", "must be a mapping")
    errors = schema_errors(_DEFINITION_VALIDATOR, definition, "definition")
    schema = definition.get("data_schema")
    if isinstance(schema, dict):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            errors.append({"field": "definition.data_schema", "message": exc.message})
    if not errors:
        errors = _semantic_errors(definition)
    if errors:
        raise InvalidInput("invalid case type definition", errors)
    return definition


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


class Definition:
    """Read-only questions about one version of a case type."""

    def __init__(self, key: str, version: int, definition: dict[str, Any]) -> None:
        self.key, self.version, self.raw = key, version, definition

    @property
    def stages(self) -> list[str]:
        return [s["key"] for s in self.raw.get("stages") or [{"key": "new"}]]

    @property
    def first_stage(self) -> str:
        return self.stages[0]

    def stage(self, key: str) -> dict[str, Any]:
        return next((s for s in self.raw.get("stages") or [] if s["key"] == key), {"key": key})

    def checklist(self, stage: str) -> list[dict[str, Any]]:
        return list(self.stage(stage).get("checklist") or [])

    @property
    def transitions(self) -> list[dict[str, Any]]:
        if "transitions" in self.raw:
            return [{"roles": DEFAULT_TRANSITION_ROLES, **t} for t in self.raw["transitions"]]
        s = self.stages
        return [
            {"from": a, "to": b, "roles": DEFAULT_TRANSITION_ROLES} for a, b in zip(s, s[1:], strict=False)
        ]

    def transition(self, from_stage: str, to_stage: str) -> dict[str, Any] | None:
        return next((t for t in self.transitions if t["from"] == from_stage and t["to"] == to_stage), None)

    @property
    def resolutions(self) -> list[str]:
        return [r["key"] for r in self.raw.get("resolutions") or DEFAULT_RESOLUTIONS]

    def task(self, key: str) -> dict[str, Any] | None:
        return next((t for t in self.raw.get("tasks") or [] if t["key"] == key), None)

    @property
    def milestones(self) -> list[dict[str, Any]]:
        return list(self.raw.get("milestones") or [])

    @property
    def retention_days(self) -> int | None:
        return self.raw.get("retention_days")

    def sla_hours(self, priority: str, stage: str) -> float | None:
        sla = self.raw.get("sla") or {}
        for p in (priority, "*"):
            targets = sla.get(p) or {}
            for s in (stage, "*"):
                if s in targets:
                    return float(targets[s])
        return None

    def data_validator(self) -> Draft202012Validator | None:
        schema = self.raw.get("data_schema")
        if not schema:
            return None
        return _compiled(json.dumps(schema, sort_keys=True))

    def data_errors(self, data: dict[str, Any]) -> list[dict[str, str]]:
        validator = self.data_validator()
        return schema_errors(validator, data, "data") if validator is not None else []

    def check_data(self, data: dict[str, Any]) -> None:
        errors = self.data_errors(data)
        if errors:
            raise InvalidInput("case data does not match the case type", errors)


def _field(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = data
    for part in path.removeprefix("data.").split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def holds(condition: dict[str, Any], *, data: dict[str, Any], stage: str, done_tasks: set[str]) -> bool:
    """Whether a milestone condition holds for a case (every key given must hold)."""
    if "stage" in condition and condition["stage"] != stage:
        return False
    if "field" in condition:
        present, value = _field(data, condition["field"])
        if condition.get("present", True) != present:
            return False
        if "equals" in condition and value != condition["equals"]:
            return False
        if "min" in condition and not (
            isinstance(value, int | float) and not isinstance(value, bool) and value >= condition["min"]
        ):
            return False
    if not set(condition.get("tasks_done") or []) <= done_tasks:
        return False
    return all(holds(c, data=data, stage=stage, done_tasks=done_tasks) for c in condition.get("all") or [])
