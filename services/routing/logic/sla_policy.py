"""SLA policies: which named clocks a case type runs, on which calendar, and what they do.

A policy is plain data (YAML under ``policies:`` in ``deploy/demo/sla/calendars.yaml``, JSONB in
``sla_policies``; ``"*"`` is the policy of every case type without its own)::

    calendar: uk-office                 # the default calendar of its clocks
    pause:                              # clocks pause while the case is in one of these states
      stages: [awaiting_customer]
      data: {waiting_on: customer}      # ...or while a custom field has this value
    clocks:
      first_response:
        target_hours: {urgent: 1, high: 2, normal: 4, "*": 8}   # business hours by priority
        start_on: [opened]              # opened, reopened, customer_reply, agent_response, stage:<key>
        stop_on: [agent_response]       # the same words, and closed (every clock stops on close)
        warn_at: [0.75]                 # warnings at these fractions of the target
        on_warning: [notify]            # notify, raise_priority, {raise_priority: urgent},
        on_breach: [notify, raise_priority, {move_queue: escalations}]   # {move_queue: <queue>}
      stage:                            # "stage" is one clock per stage, named stage:<key>,
        target_hours: case_type         # timed by the case type's own sla targets by default

Target hours are business hours on the clock's calendar. ``pauses: false`` keeps a clock
running while the case is paused; ``calendar`` on a clock overrides the policy's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jsonschema import Draft202012Validator

from casekit.contracts.cases import Priority
from casekit.errors import InvalidInput

STAGE_CLOCK = "stage"
TRIGGERS = ("opened", "reopened", "customer_reply", "agent_response", "closed")
CASE_TYPE_TARGET = "case_type"
_KEY = r"^[a-z][a-z0-9_\-]{0,63}$"
_TRIGGER = {
    "type": "string",
    "pattern": r"^(opened|reopened|customer_reply|agent_response|closed|stage:[a-z][a-z0-9_\-]{0,63})$",
}
_HOURS = {"type": "number", "exclusiveMinimum": 0, "maximum": 100000}
_ACTION = {
    "oneOf": [
        {"enum": ["notify", "raise_priority"]},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "raise_priority": {"enum": [p.value for p in Priority]},
                "move_queue": {"type": "string", "pattern": _KEY},
            },
        },
    ]
}
_ACTIONS = {"type": "array", "items": _ACTION, "maxItems": 10}

POLICY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["clocks"],
    "properties": {
        "calendar": {"type": "string", "pattern": _KEY.replace("[a-z]", "[a-z0-9]", 1)},
        "pause": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "stages": {"type": "array", "items": {"type": "string", "pattern": _KEY}, "maxItems": 50},
                "data": {
                    "type": "object",
                    "maxProperties": 20,
                    "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$"},
                },
            },
        },
        "clocks": {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"pattern": _KEY},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["target_hours"],
                "properties": {
                    "target_hours": {
                        "oneOf": [
                            _HOURS,
                            {"const": CASE_TYPE_TARGET},
                            {
                                "type": "object",
                                "minProperties": 1,
                                "propertyNames": {"enum": [*(p.value for p in Priority), "*"]},
                                "additionalProperties": _HOURS,
                            },
                        ]
                    },
                    "start_on": {"type": "array", "items": _TRIGGER, "maxItems": 10},
                    "stop_on": {"type": "array", "items": _TRIGGER, "maxItems": 10},
                    "warn_at": {
                        "type": "array",
                        "items": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                        "maxItems": 5,
                        "uniqueItems": True,
                    },
                    "on_warning": _ACTIONS,
                    "on_breach": _ACTIONS,
                    "pauses": {"type": "boolean"},
                    "calendar": {"type": "string", "pattern": _KEY.replace("[a-z]", "[a-z0-9]", 1)},
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(POLICY_SCHEMA)

# Without any policy stored: one clock per stage from the case type's targets, around the clock.
BUILTIN_POLICY: dict[str, Any] = {
    "calendar": "24x7",
    "clocks": {STAGE_CLOCK: {"target_hours": CASE_TYPE_TARGET, "warn_at": [0.75], "on_breach": ["notify"]}},
}


def validate_policy(definition: Any, calendars: set[str] | None = None) -> dict[str, Any]:
    """The policy if valid; ``InvalidInput`` naming every bad field otherwise."""
    if not isinstance(definition, dict):
        raise InvalidInput.from_field("policy", "must be a mapping")
    errors = []
    for err in sorted(_VALIDATOR.iter_errors(definition), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in err.absolute_path)
        message = err.message if len(err.message) < 300 else err.message[:300] + "..."
        errors.append({"field": f"policy.{path}" if path else "policy", "message": message})
    if not errors and calendars is not None:
        names = [("policy.calendar", definition.get("calendar"))] + [
            (f"policy.clocks.{k}.calendar", c.get("calendar")) for k, c in definition["clocks"].items()
        ]
        for where, name in names:
            if name is not None and name not in calendars:
                errors.append({"field": where, "message": f"no calendar called {name!r}"})
    if not errors:
        for key, clock in definition["clocks"].items():
            if clock["target_hours"] == CASE_TYPE_TARGET and key != STAGE_CLOCK:
                errors.append(
                    {
                        "field": f"policy.clocks.{key}.target_hours",
                        "message": "only the stage clock can take its targets from the case type",
                    }
                )
    if errors:
        raise InvalidInput("invalid SLA policy", errors)
    return definition


def clock_spec(policy: dict[str, Any], name: str) -> dict[str, Any]:
    """A clock of the policy with every default filled in (what a started clock keeps)."""
    raw = policy["clocks"][name]
    stage = name == STAGE_CLOCK
    return {
        "target_hours": raw["target_hours"],
        "start_on": list(raw.get("start_on", [] if stage else ["opened"])),
        "stop_on": list(raw.get("stop_on", [] if stage else ["closed"])),
        "warn_at": sorted(float(f) for f in raw.get("warn_at", [])),
        "on_warning": list(raw.get("on_warning", [])),
        "on_breach": list(raw.get("on_breach", [])),
        "pauses": bool(raw.get("pauses", True)),
        "calendar": raw.get("calendar") or policy.get("calendar") or "24x7",
    }


def target_for(spec: dict[str, Any], case: dict[str, Any], stage: str | None = None) -> timedelta | None:
    """The clock's target for the case as it is now (None: this clock does not run)."""
    hours = spec["target_hours"]
    if hours == CASE_TYPE_TARGET:
        sla = case.get("sla") or {}
        if sla.get("stage") != (stage or case.get("stage")) or not sla.get("target_hours"):
            return None
        hours = sla["target_hours"]
    elif isinstance(hours, dict):
        hours = hours.get(case.get("priority") or "", hours.get("*"))
        if hours is None:
            return None
    return timedelta(hours=float(hours))


def pause_reason(policy: dict[str, Any], case: dict[str, Any]) -> str | None:
    """Why the case's clocks are paused now, or None when they run."""
    pause = policy.get("pause") or {}
    if case.get("status") != "open":
        return None
    if case.get("stage") in (pause.get("stages") or []):
        return f"stage became {case['stage']}"
    data = case.get("data") or {}
    for path, value in sorted((pause.get("data") or {}).items()):
        found: Any = data
        for part in path.removeprefix("data.").split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if found is not None and found == value:
            return f"data.{path.removeprefix('data.')} became {value}"
    return None


def priority_raised(current: str, to: str | None = None) -> str:
    """The next priority up (or ``to`` when that is higher); urgent stays urgent."""
    order = [p.value for p in Priority]
    rank = order.index(current) if current in order else 1
    if to is not None:
        return to if order.index(to) > rank else current
    return order[min(rank + 1, len(order) - 1)]
