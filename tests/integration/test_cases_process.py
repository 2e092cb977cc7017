"""The case's process in the cases service on a fresh database: transitions per role, checklists,
supervisor overrides, optimistic concurrency, close and reopen, milestones, SLA and events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from services.cases.service import CasesService
from tests.integration.helpers import call, sql

pytestmark = pytest.mark.integration

AGENT = {"user_id": "agent-1", "roles": "agent", "correlation_id": "c-agent"}
AGENT2 = {"user_id": "agent-2", "roles": "agent"}
SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor"}
ADMIN = {"user_id": "admin-1", "roles": "admin"}
AUDITOR = {"user_id": "aud-1", "roles": "auditor"}
ROLES = {"agent": AGENT, "supervisor": SUPERVISOR, "admin": ADMIN, "auditor": AUDITOR}

CLAIM: dict[str, Any] = {
    "key": "claim",
    "name": "Claim",
    "prefix": "CLM",
    "retention_days": 365,
    "intake_channels": ["email"],
    "data_schema": {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "contact": {"type": "string", "format": "email"},
        },
    },
    "stages": [
        {
            "key": "received",
            "checklist": [
                {"key": "id_checked", "title": "Check the claimant's ID", "required": True},
                {"key": "filed", "title": "File the paperwork"},
            ],
        },
        {"key": "assessing", "checklist": [{"key": "assessed", "title": "Assess", "required": True}]},
        {"key": "approval"},
        {"key": "done"},
    ],
    "transitions": [
        {"from": "received", "to": "assessing", "roles": ["agent", "supervisor"]},
        {"from": "assessing", "to": "approval", "roles": ["agent", "supervisor"]},
        {"from": "approval", "to": "done", "roles": ["supervisor"]},
    ],
    "milestones": [
        {"key": "big_claim", "when": {"field": "amount", "min": 1000}},
        {"key": "in_approval", "when": {"stage": "approval"}},
    ],
    "tasks": [{"key": "call", "title": "Call the claimant", "due_in_hours": 24}],
    "resolutions": [{"key": "paid"}, {"key": "rejected"}],
    "sla": {"high": {"received": 8, "*": 48}, "*": {"*": 100}},
}


@pytest.fixture
def cases(start_service: Callable[..., Any]) -> Any:
    container = start_service(CasesService, db="cases")
    call(container, "load_case_type", CLAIM, context=ADMIN)
    return container


@pytest.fixture
def db_url(cases: Any) -> str:
    return cases.config["DB_URL"]


def open_claim(cases: Any, context: dict | None = None, **fields: Any) -> dict[str, Any]:
    body = {"type": "claim", "title": "Water damage", "priority": "high", **fields}
    return call(cases, "create_case", body, context=context or AGENT)


def task(case: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in case["tasks"] if t["key"] == key)


def done(cases: Any, case: dict[str, Any], key: str, context: dict | None = None) -> dict[str, Any]:
    return call(
        cases,
        "edit_task",
        case["id"],
        case["version"],
        task(case, key)["id"],
        {"done": True},
        context=context,
    )["case"]


def move(cases: Any, case: dict[str, Any], to: str, context: dict | None = None, reason: str | None = None):
    request = {"to": to, **({"reason": reason} if reason else {})}
    return call(cases, "transition_case", case["id"], case["version"], request, context=context or AGENT)


def at_stage(cases: Any, stage: str) -> dict[str, Any]:
    case = open_claim(cases)
    if stage != "received":
        case = move(cases, case, stage, ADMIN, reason="test setup")
    return case


def audit_actions(db_url: str, case_id: str) -> list[str]:
    rows = sql(db_url, "SELECT action FROM audit_entries WHERE case_id = %s ORDER BY seq", (case_id,))
    return [a for (a,) in rows if a != "case_read"]


# --- transitions, per role ---------------------------------------------------------------------

ALLOWED = [
    ("agent", "assessing", "approval"),
    ("supervisor", "assessing", "approval"),
    ("supervisor", "approval", "done"),
]
REFUSED = [
    ("agent", "approval", "done"),  # defined, but for supervisors only
    ("agent", "assessing", "received"),  # a reversal
    ("agent", "received", "approval"),  # a jump
    ("auditor", "assessing", "approval"),  # auditors never change cases
    ("agent", "done", "received"),
]


@pytest.mark.parametrize(("role", "start", "to"), ALLOWED)
def test_a_defined_transition_is_taken_by_the_roles_it_names(
    cases: Any, role: str, start: str, to: str
) -> None:
    case = at_stage(cases, start)
    if start == "assessing":
        case = done(cases, case, "assessed")
    moved = move(cases, case, to, ROLES[role])
    assert (moved["stage"], moved["version"]) == (to, case["version"] + 1)


@pytest.mark.parametrize(("role", "start", "to"), REFUSED)
def test_a_transition_outside_the_roles_path_is_refused(cases: Any, role: str, start: str, to: str) -> None:
    case = at_stage(cases, start)
    with pytest.raises(PermissionDenied):
        move(cases, case, to, ROLES[role])
    assert call(cases, "get_case", case["id"])["stage"] == start


def test_an_unknown_stage_is_invalid_input_naming_to(cases: Any) -> None:
    with pytest.raises(InvalidInput) as bad:
        move(cases, open_claim(cases), "nowhere")
    assert bad.value.fields[0]["field"] == "to"


def test_a_required_checklist_item_blocks_leaving_the_stage(cases: Any, db_url: str) -> None:
    case = open_claim(cases)
    assert {(t["key"], t["required"], t["kind"]) for t in case["tasks"]} == {
        ("id_checked", True, "checklist"),
        ("filed", False, "checklist"),
    }
    with pytest.raises(Conflict, match="id_checked"):
        move(cases, case, "assessing")
    case = done(cases, case, "id_checked")
    assert task(case, "id_checked")["done_by"] == "agent-1" and task(case, "id_checked")["done_at"]
    moved = move(cases, case, "assessing")  # the optional item may stay open
    assert moved["stage"] == "assessing"
    assert task(moved, "assessed")["stage"] == "assessing", "the new stage's checklist is added"
    assert audit_actions(db_url, case["id"]) == ["case_opened", "task_completed", "case_transitioned"]


def test_a_supervisor_override_needs_a_reason_and_is_audited(cases: Any, db_url: str) -> None:
    case = open_claim(cases)
    with pytest.raises(InvalidInput) as no_reason:
        move(cases, case, "approval", SUPERVISOR)
    assert no_reason.value.fields[0]["field"] == "reason"
    with pytest.raises(Conflict):  # required items block a supervisor without a reason too
        move(cases, case, "assessing", SUPERVISOR)
    jumped = move(cases, case, "approval", SUPERVISOR, reason="customer is vulnerable, fast-tracked")
    assert jumped["stage"] == "approval" and jumped["milestones"].keys() == {"in_approval"}
    back = move(cases, jumped, "received", SUPERVISOR, reason="sent back: wrong documents")
    assert back["stage"] == "received"
    trail = call(cases, "audit_trail", case["id"])
    jump = next(e for e in trail if e["action"] == "case_transitioned")
    assert jump["actor_id"] == "sup-1"
    assert jump["changes"]["override"] is True
    assert jump["changes"]["reason"] == "customer is vulnerable, fast-tracked"
    assert jump["changes"]["skipped_checklist"] == ["id_checked"]
    assert jump["changes"]["stage"] == {"before": "received", "after": "approval"}
    [(payload,)] = sql(
        db_url,
        "SELECT payload FROM outbox WHERE type = 'case_transitioned' AND payload->>'case_id' = %s "
        "ORDER BY id LIMIT 1",
        (case["id"],),
    )
    assert payload["data"]["override"] is True and payload["data"]["from_stage"] == "received"
    assert payload["case_version"] == payload["data"]["case"]["version"] == jumped["version"]


# --- versions ----------------------------------------------------------------------------------


def test_every_change_states_the_version_it_expects(cases: Any) -> None:
    case = open_claim(cases)
    with pytest.raises(StaleVersion):
        call(cases, "update_case", case["id"], case["version"] + 1, {"title": "x"})
    with pytest.raises(InvalidInput) as missing:
        call(cases, "update_case", case["id"], None, {"title": "x"})
    assert missing.value.fields[0]["field"] == "expected_version"


def test_two_concurrent_updates_exactly_one_wins(cases: Any, db_url: str) -> None:
    case = open_claim(cases)
    with ServiceRpcProxy("cases", cases.config, context_data=dict(AGENT)) as rpc:
        replies = [
            rpc.update_case.call_async(case["id"], case["version"], {"title": f"title {i}"}) for i in range(2)
        ]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except StaleVersion as exc:
                outcomes.append(exc)
    wins = [o for o in outcomes if isinstance(o, dict)]
    assert len(wins) == 1 and wins[0]["version"] == case["version"] + 1
    assert sum(isinstance(o, StaleVersion) for o in outcomes) == 1
    assert call(cases, "get_case", case["id"])["title"] == wins[0]["title"]
    assert audit_actions(db_url, case["id"]) == ["case_opened", "case_updated"]


def test_custom_data_is_validated_on_update_naming_the_field_and_rule(cases: Any) -> None:
    case = open_claim(cases, data={"amount": 10})
    with pytest.raises(InvalidInput) as bad:
        call(cases, "update_case", case["id"], case["version"], {"data": {"amount": -1, "contact": "nope"}})
    errors = {e["field"]: e["message"] for e in bad.value.fields}
    assert errors.keys() == {"data.amount", "data.contact"}
    assert "minimum" in errors["data.amount"] and "email" in errors["data.contact"]
    changed = call(cases, "update_case", case["id"], case["version"], {"data": {"amount": 5000}})
    assert changed["milestones"].keys() == {"big_claim"}
    trail = call(cases, "audit_trail", case["id"])
    assert trail[-1]["changes"]["data"] == {"before": {"amount": 10}, "after": {"amount": 5000}}
    assert trail[-1]["changes"]["milestones_reached"] == ["big_claim"]


def test_only_supervisors_change_team_and_restriction(cases: Any) -> None:
    case = open_claim(cases)
    with pytest.raises(PermissionDenied):
        call(cases, "update_case", case["id"], case["version"], {"team": "fraud"})
    hidden = call(
        cases,
        "update_case",
        case["id"],
        case["version"],
        {"team": "fraud", "restricted": True},
        context=SUPERVISOR,
    )
    assert (hidden["team"], hidden["restricted"]) == ("fraud", True)
    with pytest.raises(NotFound):  # the agent is not in the team: the case is gone for them
        call(cases, "get_case", case["id"])
    fraud_agent = {"user_id": "agent-9", "roles": "agent", "teams": "fraud"}
    with pytest.raises(NotFound):  # in the team, but restricted cases are for supervisors
        call(cases, "get_case", case["id"], context=fraud_agent)
    fraud_sup = {"user_id": "sup-9", "roles": "supervisor", "teams": "fraud"}
    assert call(cases, "get_case", case["id"], context=fraud_sup)["id"] == case["id"]
    assert call(cases, "get_case", case["id"], context=AUDITOR)["id"] == case["id"]
    assert case["id"] not in [c["id"] for c in call(cases, "list_cases")["items"]]
    assert case["id"] in [c["id"] for c in call(cases, "list_cases", context=fraud_sup)["items"]]


# --- close and reopen --------------------------------------------------------------------------


def test_close_needs_a_resolution_code_and_a_closed_case_refuses_edits_until_reopened(
    cases: Any, db_url: str
) -> None:
    case = done(cases, open_claim(cases), "id_checked")
    with pytest.raises(InvalidInput) as bad:
        call(cases, "close_case", case["id"], case["version"], {"resolution": "whatever"})
    assert bad.value.fields[0]["field"] == "resolution" and "paid" in bad.value.fields[0]["message"]
    closed = call(cases, "close_case", case["id"], case["version"], {"resolution": "paid"})
    assert (closed["status"], closed["resolution"], closed["due_at"]) == ("closed", "paid", None)
    assert closed["closed_at"] and closed["retention_days"] == 365
    for method, args in (
        ("update_case", ({"title": "t"},)),
        ("add_note", ({"body": "late"},)),
        ("transition_case", ({"to": "assessing"},)),
        ("close_case", ({"resolution": "paid"},)),
    ):
        with pytest.raises(Conflict, match="closed"):
            call(cases, method, case["id"], closed["version"], *args)
    with pytest.raises(InvalidInput):
        call(cases, "reopen_case", case["id"], closed["version"], {"reason": ""})
    reopened = call(cases, "reopen_case", case["id"], closed["version"], {"reason": "new evidence"})
    assert (reopened["status"], reopened["resolution"], reopened["closed_at"]) == ("open", None, None)
    assert call(cases, "add_note", case["id"], reopened["version"], {"body": "now it works"})["case"][
        "version"
    ] == (reopened["version"] + 1)
    assert audit_actions(db_url, case["id"])[-3:] == ["case_closed", "case_reopened", "note_added"]
    types = [
        t
        for (t,) in sql(
            db_url, "SELECT type FROM outbox WHERE payload->>'case_id' = %s ORDER BY id", (case["id"],)
        )
    ]
    assert types == ["case_opened", "task_completed", "case_closed", "case_reopened", "note_added"]


def test_the_snapshot_carries_sla_retention_team_and_closed_at(cases: Any) -> None:
    case = open_claim(cases, team="claims")
    assert case["sla"] == {"priority": "high", "stage": "received", "target_hours": 8.0}
    assert case["retention_days"] == 365 and case["team"] == "claims" and case["restricted"] is False
    assert case["closed_at"] is None and case["due_at"] is not None
    low = open_claim(cases, priority="low")
    assert low["sla"] == {"priority": "low", "stage": "received", "target_hours": 100.0}


def test_every_event_carries_the_snapshot_at_its_version(cases: Any, db_url: str) -> None:
    case = open_claim(cases)
    case = call(cases, "add_note", case["id"], case["version"], {"body": "hello"})["case"]
    case = done(cases, case, "id_checked")
    case = move(cases, case, "assessing")
    rows = sql(db_url, "SELECT payload FROM outbox WHERE payload->>'case_id' = %s ORDER BY id", (case["id"],))
    versions = [p["case_version"] for (p,) in rows]
    assert versions == [1, 2, 3, 4]
    for (payload,) in rows:
        assert payload["data"]["case"]["version"] == payload["case_version"]
    assert rows[-1][0]["data"]["case"] == call(cases, "get_case", case["id"])
