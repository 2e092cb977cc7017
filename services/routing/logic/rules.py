"""The routing rule set: a declarative, ordered list of rules, validated and explained.

A rule set document (YAML or JSON)::

    default_queue: default
    queues: [{name: billing, title: Billing}]        # optional: created when missing
    rules:
      - id: big-gas-complaints
        description: gas complaints over 1000 go to billing specialists
        when:                                        # every condition must hold
          case_type: complaint                       # a value or a list (any of)
          priority: [high, urgent]
          channel: [email, web]
          stage: received
          team: billing
          data: {product: gas, amount: {gte: 1000}}  # custom fields by dotted path
          party: {role: customer, kind: organisation, country: GB}   # some party matches all
        then:
          queue: billing
          skills: [gas]                              # an agent needs all of them to claim
          language: fr                               # an agent must speak it
          priority_boost: 1                          # levels added to the case priority

Rules are tried in order; the first enabled rule whose conditions all hold decides. ``explain``
reports every rule: matched or not, and each condition's verdict.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from casekit.contracts.cases import Priority
from casekit.contracts.validation import Contract, parse

NAME = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "contains")
PARTY_ATTRIBUTES = ("role", "kind", "name", "email", "email_domain", "phone", "country", "city", "postcode")
CASE_FIELDS = ("case_type", "priority", "channel", "stage", "team")
Scalar = str | int | float | bool | None


class Strict(Contract):
    model_config = ConfigDict(extra="forbid")


def _check_condition(value: Any) -> Any:
    if isinstance(value, dict):
        if not value:
            raise ValueError("an operator condition needs at least one operator")
        unknown = [k for k in value if k not in OPERATORS]
        if unknown:
            raise ValueError(f"unknown operator {unknown[0]!r}; use one of {', '.join(OPERATORS)}")
        for op in ("in", "not_in"):
            if op in value and not isinstance(value[op], list):
                raise ValueError(f"{op} takes a list")
        for op in ("gt", "gte", "lt", "lte"):
            if op in value and (isinstance(value[op], bool) or not isinstance(value[op], int | float | str)):
                raise ValueError(f"{op} takes a number or a string")
        if "exists" in value and not isinstance(value["exists"], bool):
            raise ValueError("exists takes true or false")
    elif isinstance(value, list):
        if not value:
            raise ValueError("a list condition needs at least one value")
    elif not isinstance(value, Scalar):
        raise ValueError("a condition is a value, a list of values or an operator mapping")
    return value


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else value


class When(Strict):
    case_type: str | list[str] | None = None
    priority: Priority | list[Priority] | None = None
    channel: str | list[str] | None = None
    stage: str | list[str] | None = None
    team: str | list[str] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    party: dict[str, Any] = Field(default_factory=dict)

    @field_validator("case_type", "priority", "channel", "stage", "team")
    @classmethod
    def _non_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one value")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, cond in value.items():
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"bad field path {path!r}")
            try:
                _check_condition(cond)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        return value

    @field_validator("party")
    @classmethod
    def _party(cls, value: dict[str, Any]) -> dict[str, Any]:
        for attribute, cond in value.items():
            if attribute not in PARTY_ATTRIBUTES:
                raise ValueError(f"unknown party attribute {attribute!r}; use {', '.join(PARTY_ATTRIBUTES)}")
            try:
                _check_condition(cond)
            except ValueError as exc:
                raise ValueError(f"{attribute}: {exc}") from None
        return value


class Then(Strict):
    queue: str = Field(pattern=NAME)
    skills: list[str] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    priority_boost: int = Field(default=0, ge=-3, le=3)

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        for skill in value:
            if not skill or len(skill) > 64:
                raise ValueError("a skill is 1 to 64 characters")
        return sorted(set(value))


class Rule(Strict):
    id: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=500)
    enabled: bool = True
    when: When = Field(default_factory=When)
    then: Then


class QueueDef(Strict):
    name: str = Field(pattern=NAME)
    title: str | None = Field(default=None, max_length=200)


class RuleSetDoc(Strict):
    default_queue: str = Field(default="default", pattern=NAME)
    queues: list[QueueDef] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list, max_length=500)
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSetDoc:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


def parse_rules(document: Any) -> RuleSetDoc:
    """Validate a rule set document; ``InvalidInput`` names each bad field (``rules.2.then.queue``)."""
    return parse(RuleSetDoc, document)


# --- evaluation -------------------------------------------------------------------------------


def case_facts(item: Any) -> dict[str, Any]:
    """The facts rules look at, from a work item (or anything with the same attributes)."""
    from services.routing.logic.common import priority_name

    return {
        "case_type": item.case_type,
        "priority": priority_name(item.base_priority or 2),
        "channel": item.channel,
        "stage": item.stage,
        "team": item.team,
        "data": dict(item.case_data or {}),
        "parties": list(item.parties or []),
    }


def lookup(data: Any, path: str) -> tuple[bool, Any]:
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def _compare(op: str, actual: Any, wanted: Any) -> bool:
    try:
        if op == "gt":
            return actual > wanted
        if op == "gte":
            return actual >= wanted
        if op == "lt":
            return actual < wanted
        return actual <= wanted
    except TypeError:
        return False


def check_condition(cond: Any, present: bool, actual: Any) -> tuple[bool, str]:
    """Does ``actual`` satisfy ``cond``? Returns the verdict and a sentence saying why."""
    shown = repr(actual) if present else "missing"
    if isinstance(cond, list):
        ok = present and actual in cond
        return ok, f"{shown} is {'' if ok else 'not '}one of {cond}"
    if not isinstance(cond, dict):
        ok = present and actual == cond
        return ok, f"{shown} {'equals' if ok else 'is not'} {cond!r}"
    reasons = []
    for op, wanted in cond.items():
        if op == "exists":
            ok = present == wanted
            reasons.append(
                (ok, f"{'present' if present else 'missing'}, wanted {'present' if wanted else 'missing'}")
            )
            continue
        if not present:
            reasons.append((op in ("ne", "not_in"), f"missing ({op} {wanted!r})"))
            continue
        if op == "eq":
            ok = actual == wanted
        elif op == "ne":
            ok = actual != wanted
        elif op == "in":
            ok = actual in wanted
        elif op == "not_in":
            ok = actual not in wanted
        elif op == "contains":
            ok = isinstance(actual, list | str) and wanted in actual
        else:
            ok = not isinstance(actual, bool) and _compare(op, actual, wanted)
        reasons.append((ok, f"{shown} {op} {wanted!r}: {'yes' if ok else 'no'}"))
    return all(ok for ok, _ in reasons), "; ".join(text for _, text in reasons)


def party_value(party: dict[str, Any], attribute: str) -> tuple[bool, Any]:
    address = party.get("address") or {}
    if attribute in ("role", "kind", "name"):
        value = party.get(attribute)
    elif attribute in ("country", "city", "postcode"):
        value = address.get(attribute)
    elif attribute == "email":
        value = (party.get("emails") or [None])[0]
    elif attribute == "email_domain":
        email = (party.get("emails") or [None])[0]
        value = email.rsplit("@", 1)[-1].lower() if email else None
    else:  # phone
        value = (party.get("phones") or [None])[0]
    return value is not None, value


def _party_check(conds: dict[str, Any], parties: list[dict[str, Any]]) -> dict[str, Any]:
    if not parties:
        return {"field": "party", "ok": False, "detail": "the case has no parties"}
    misses = []
    for index, party in enumerate(parties):
        verdicts = [(a, *check_condition(c, *party_value(party, a))) for a, c in conds.items()]
        if all(ok for _, ok, _ in verdicts):
            return {
                "field": "party",
                "ok": True,
                "detail": f"party {party.get('name')!r} ({party.get('role')}) matches",
            }
        failed = next((a, why) for a, ok, why in verdicts if not ok)
        misses.append(f"#{index + 1} {party.get('name')!r}: {failed[0]} {failed[1]}")
    return {"field": "party", "ok": False, "detail": "no party matches all: " + "; ".join(misses)}


def evaluate_rule(rule: Rule, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every condition of ``rule`` with its verdict (an empty ``when`` matches everything)."""
    checks = []
    for name in CASE_FIELDS:
        wanted = getattr(rule.when, name)
        if wanted is None:
            continue
        values = [str(v.value if isinstance(v, Priority) else v) for v in _as_list(wanted)]  # type: ignore[arg-type]
        ok, why = check_condition(values, facts[name] is not None, facts[name])
        checks.append({"field": name, "ok": ok, "detail": why})
    for path, cond in rule.when.data.items():
        ok, why = check_condition(cond, *lookup(facts["data"], path))
        checks.append({"field": f"data.{path}", "ok": ok, "detail": why})
    if rule.when.party:
        checks.append(_party_check(rule.when.party, facts["parties"]))
    return checks


def route(doc: RuleSetDoc, facts: dict[str, Any]) -> tuple[Rule | None, dict[str, Any]]:
    """The first enabled rule that matches (or None: the default queue) and the full explanation."""
    chosen: Rule | None = None
    lines = []
    for position, rule in enumerate(doc.rules, start=1):
        checks = evaluate_rule(rule, facts)
        matched = all(c["ok"] for c in checks)
        if not rule.enabled:
            outcome = "disabled"
        elif not matched:
            failed = [c["field"] for c in checks if not c["ok"]]
            outcome = f"not matched: {', '.join(failed)}"
        elif chosen is None:
            chosen = rule
            outcome = "chosen"
        else:
            outcome = f"matched, but rule {chosen.id!r} comes first"
        lines.append(
            {
                "position": position,
                "rule": rule.id,
                "description": rule.description,
                "enabled": rule.enabled,
                "matched": matched and rule.enabled,
                "outcome": outcome,
                "checks": checks,
                "then": rule.then.model_dump(),
            }
        )
    target = chosen.then.queue if chosen else doc.default_queue
    summary = (
        f"rule {chosen.id!r} (#{lines[doc.rules.index(chosen)]['position']}) sent it to {target}"
        if chosen
        else f"no rule matched; the default queue {target}"
    )
    return chosen, {
        "queue": target,
        "rule": chosen.id if chosen else None,
        "summary": summary,
        "rules": lines,
    }


def watched_fields(doc: RuleSetDoc) -> set[str]:
    """The case facts any rule looks at: a change elsewhere never re-routes a case."""
    out: set[str] = set()
    for rule in doc.rules:
        out.update(name for name in CASE_FIELDS if getattr(rule.when, name) is not None)
        out.update(f"data.{path}" for path in rule.when.data)
        if rule.when.party:
            out.add("parties")
    return out


def fact_value(facts: dict[str, Any], name: str) -> Any:
    if name.startswith("data."):
        return lookup(facts["data"], name[5:])
    return facts.get(name)
