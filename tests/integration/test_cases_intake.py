"""Intake and case type versions in the cases service: correlation by reference, thread and sender;
redelivery; definitions pinned per case, and migrating open cases with a dry run first."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from casekit.errors import InvalidInput, PermissionDenied
from services.cases.service import CasesService
from tests.integration.helpers import call, sql
from tests.integration.test_cases_process import ADMIN, AGENT, CLAIM, open_claim

pytestmark = pytest.mark.integration

SYSTEM = {"user_id": "system:email", "roles": "system"}
COUNTS = (
    "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM outbox), "
    "(SELECT count(*) FROM audit_entries), (SELECT count(*) FROM intake_items)"
)


@pytest.fixture
def cases(start_service: Callable[..., Any]) -> Any:
    container = start_service(CasesService, db="cases")
    call(container, "load_case_type", CLAIM, context=ADMIN)
    return container


@pytest.fixture
def db_url(cases: Any) -> str:
    return cases.config["DB_URL"]


def item(provider_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "channel": "email",
        "provider_id": provider_id,
        "sender": {"name": "Ann", "email": "ann@example.org"},
        "subject": "My claim",
        "body": "Please help",
        "thread": {"message_id": f"<{provider_id}@mail.example>"},
        **fields,
    }


def take(cases: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return call(cases, "intake", payload, context=SYSTEM)


def test_a_new_item_opens_a_case_of_the_channels_type_and_lands_on_its_timeline(cases: Any) -> None:
    result = take(cases, item("m1"))
    assert (result["created"], result["duplicate"], result["matched_by"]) == (True, False, None)
    case = call(cases, "get_case", result["case_id"])
    assert (case["type"], case["title"], case["channel"]) == ("claim", "My claim", "email")
    assert case["parties"][0]["emails"] == ["ann@example.org"]
    timeline = call(cases, "timeline", case["id"])["items"]
    assert [i["action"] for i in timeline] == ["case_opened", "intake_received"]
    assert timeline[1]["detail"]["item"]["provider_id"] == "m1"


def test_the_reference_in_the_subject_wins(cases: Any) -> None:
    case = open_claim(cases)
    other_sender = {"name": "Zed", "email": "zed@example.org"}
    result = take(cases, item("m2", subject=f"RE: [{case['reference']}] more photos", sender=other_sender))
    assert (result["case_id"], result["matched_by"], result["created"]) == (case["id"], "reference", False)
    assert call(cases, "get_case", case["id"])["version"] == 2


def test_a_reply_in_the_thread_joins_its_case(cases: Any) -> None:
    first = take(cases, item("m3", sender={"name": "Bo", "email": "bo@example.org"}))
    take(cases, item("m3b", sender={"name": "Bo", "email": "bo@example.org"}))  # sender rule, same case
    reply = item(
        "m4",
        sender={"name": "Someone else", "email": "else@example.org"},
        subject="Re: My claim",
        thread={"message_id": "<m4@x>", "in_reply_to": "<unknown@x>", "references": ["<m3@mail.example>"]},
    )
    result = take(cases, reply)
    assert (result["case_id"], result["matched_by"]) == (first["case_id"], "thread")


def test_a_known_sender_with_exactly_one_open_case_joins_it(cases: Any) -> None:
    case = open_claim(cases, customer={"name": "Cat", "email": "cat@example.org"})
    joined = take(cases, item("m5", sender={"name": "Cat", "email": "CAT@example.org"}, subject="hello"))
    assert (joined["case_id"], joined["matched_by"]) == (case["id"], "sender")
    open_claim(cases, customer={"name": "Cat", "email": "cat@example.org"})  # now two open cases
    ambiguous = take(cases, item("m6", sender={"name": "Cat", "email": "cat@example.org"}, subject="again"))
    assert ambiguous["created"] is True and ambiguous["case_id"] != case["id"]


def test_an_item_for_a_closed_case_opens_a_new_related_case(cases: Any) -> None:
    case = open_claim(cases)
    case = call(cases, "edit_task", case["id"], 1, case["tasks"][0]["id"], {"done": True})["case"]
    closed = call(cases, "close_case", case["id"], case["version"], {"resolution": "paid"})
    result = take(cases, item("m7", subject=f"{case['reference']} not happy"))
    assert result["created"] is True
    fresh = call(cases, "get_case", result["case_id"])
    assert [(lk["kind"], lk["case_id"]) for lk in fresh["links"]] == [("related", case["id"])]
    assert call(cases, "get_case", case["id"])["version"] == closed["version"], "the closed case is untouched"


def test_a_person_taking_an_item_in_never_joins_a_case_they_cannot_see(cases: Any) -> None:
    hidden = open_claim(cases, team="fraud")
    result = call(cases, "intake", item("m10", subject=f"about {hidden['reference']}"), context=AGENT)
    assert result["created"] is True and result["case_id"] != hidden["id"]
    assert take(cases, item("m11", subject=f"about {hidden['reference']}"))["case_id"] == hidden["id"]


def test_a_duplicate_delivery_creates_nothing_new(cases: Any, db_url: str) -> None:
    first = take(cases, item("m8"))
    before = sql(db_url, COUNTS)
    again = take(cases, item("m8", subject="changed subject, same provider id"))
    assert (again["case_id"], again["duplicate"], again["created"]) == (first["case_id"], True, False)
    assert sql(db_url, COUNTS) == before


def test_only_staff_and_the_system_take_items_in(cases: Any) -> None:
    with pytest.raises(PermissionDenied):
        call(cases, "intake", item("m9"), context={"user_id": "aud", "roles": "auditor"})
    with pytest.raises(InvalidInput) as bad:
        call(cases, "intake", {"channel": "email"}, context=SYSTEM)
    assert {e["field"] for e in bad.value.fields} >= {"provider_id", "sender"}


# --- definitions: versions, pinning, migration ---------------------------------------------------


def claim_v2() -> dict[str, Any]:
    v2 = copy.deepcopy(CLAIM)
    v2["stages"][1] = {
        "key": "review",
        "checklist": [
            {"key": "assessed", "title": "Assess"},
            {"key": "photos", "title": "Photos", "required": True},
        ],
    }
    v2["stages"][0]["checklist"].append({"key": "welcome", "title": "Send the welcome pack"})
    v2["transitions"] = [
        {"from": "received", "to": "review", "roles": ["agent"]},
        {"from": "review", "to": "approval", "roles": ["agent"]},
        {"from": "approval", "to": "done", "roles": ["supervisor"]},
    ]
    v2["data_schema"]["required"] = ["amount"]
    del v2["intake_channels"]  # intake opens cases with empty data; see test_definitions
    return v2


def test_open_cases_stay_on_their_version_until_migrated_with_a_dry_run_first(
    cases: Any, db_url: str
) -> None:
    received = open_claim(cases, data={"amount": 5})
    assessing = open_claim(cases, data={"amount": 7})
    assessing = call(
        cases, "transition_case", assessing["id"], 1, {"to": "assessing", "reason": "setup"}, context=ADMIN
    )
    no_amount = open_claim(cases)
    assert call(cases, "load_case_type", claim_v2(), context=ADMIN)["version"] == 2
    newer = open_claim(cases, data={"amount": 1})
    assert newer["type_version"] == 2 and [t["key"] for t in newer["tasks"]] == [
        "id_checked",
        "filed",
        "welcome",
    ]
    with pytest.raises(InvalidInput) as v2_rules:
        call(cases, "update_case", newer["id"], 1, {"data": {}})
    assert v2_rules.value.fields == [{"field": "data", "message": "'amount' is a required property"}]
    # pinned: v1 rules still apply to a v1 case
    no_amount = call(cases, "update_case", no_amount["id"], 1, {"data": {"note": "no amount yet"}})

    before = sql(db_url, "SELECT id, version, type_version, stage FROM cases ORDER BY id")
    outbox = sql(db_url, "SELECT count(*) FROM outbox")
    dry = call(cases, "migrate_case_type", "claim", {"dry_run": True}, context=ADMIN)
    assert sql(db_url, "SELECT id, version, type_version, stage FROM cases ORDER BY id") == before
    assert sql(db_url, "SELECT count(*) FROM outbox") == outbox, "a dry run writes nothing"
    plans = {p["case_id"]: p for p in dry["cases"]}
    assert plans.keys() == {received["id"], assessing["id"], no_amount["id"]}, "only open v1 cases"
    assert plans[received["id"]]["changes"] == ["type_version 1 -> 2", "checklist items added: welcome"]
    assert plans[received["id"]]["problems"] == []
    assert [p["field"] for p in plans[assessing["id"]]["problems"]] == ["stage"]
    assert plans[no_amount["id"]]["problems"] == [
        {"field": "data", "message": "'amount' is a required property"}
    ]
    assert (dry["dry_run"], dry["migrated"], dry["blocked"]) == (True, 0, 2)

    mapped = call(
        cases,
        "migrate_case_type",
        "claim",
        {"dry_run": True, "stage_map": {"assessing": "review"}},
        context=ADMIN,
    )
    assert {p["case_id"]: p["changes"] for p in mapped["cases"]}[assessing["id"]] == [
        "type_version 1 -> 2",
        "stage assessing -> review",
        "checklist items added: photos",
    ]
    with pytest.raises(PermissionDenied):
        call(cases, "migrate_case_type", "claim", {"dry_run": False}, context=AGENT)
    applied = call(
        cases,
        "migrate_case_type",
        "claim",
        {"dry_run": False, "stage_map": {"assessing": "review"}},
        context=ADMIN,
    )
    assert (applied["migrated"], applied["blocked"]) == (2, 1)
    moved = call(cases, "get_case", assessing["id"])
    assert (moved["type_version"], moved["stage"], moved["version"]) == (
        2,
        "review",
        assessing["version"] + 1,
    )
    assert sorted(t["key"] for t in moved["tasks"] if t["stage"] == "review") == ["assessed", "photos"]
    assert call(cases, "get_case", no_amount["id"])["type_version"] == 1, "blocked cases stay"
    trail = call(cases, "audit_trail", moved["id"])
    assert trail[-2]["changes"]["migration"] == {
        "before": {"type_version": 1, "stage": "assessing"},
        "after": {"type_version": 2, "stage": "review"},
    }
    with pytest.raises(Exception, match="photos"):  # v2's checklist now governs the case
        call(cases, "transition_case", moved["id"], moved["version"], {"to": "approval"})
