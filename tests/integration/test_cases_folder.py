"""The case folder in the cases service: notes with history, tasks from the menu and ad hoc,
parties reused across cases and their relationships, links, merge, the timeline, lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from casekit.errors import Conflict, InvalidInput, PermissionDenied
from services.cases.service import CasesService
from tests.integration.helpers import call, sql
from tests.integration.test_cases_process import (
    ADMIN,
    AGENT2,
    CLAIM,
    SUPERVISOR,
    audit_actions,
    open_claim,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cases(start_service: Callable[..., Any]) -> Any:
    container = start_service(CasesService, db="cases")
    call(container, "load_case_type", CLAIM, context=ADMIN)
    return container


@pytest.fixture
def db_url(cases: Any) -> str:
    return cases.config["DB_URL"]


def test_notes_are_edited_with_their_history_kept(cases: Any, db_url: str) -> None:
    case = open_claim(cases)
    added = call(cases, "add_note", case["id"], 1, {"body": "first words"})
    note = added["note"]
    assert (note["visibility"], note["author"], note["revision"]) == ("internal", "agent-1", 1)
    case = added["case"]
    with pytest.raises(PermissionDenied):  # another agent may not rewrite it
        call(
            cases, "edit_note", case["id"], case["version"], note["id"], {"body": "mine now"}, context=AGENT2
        )
    edited = call(
        cases,
        "edit_note",
        case["id"],
        case["version"],
        note["id"],
        {"body": "better", "visibility": "customer"},
    )
    assert (edited["note"]["body"], edited["note"]["revision"], edited["note"]["visibility"]) == (
        "better",
        2,
        "customer",
    )
    case = edited["case"]
    again = call(
        cases, "edit_note", case["id"], case["version"], note["id"], {"body": "best"}, context=SUPERVISOR
    )
    history = call(cases, "note_history", case["id"], note["id"])["history"]
    assert [(h["revision"], h["body"], h["written_by"], h["edited_by"]) for h in history] == [
        (1, "first words", "agent-1", "agent-1"),
        (2, "better", "agent-1", "sup-1"),
    ]
    assert [n["body"] for n in again["case"]["notes"]] == ["best"]
    assert audit_actions(db_url, case["id"]) == ["case_opened", "note_added", "note_updated", "note_updated"]


def test_tasks_come_from_the_menu_or_ad_hoc_and_record_who_did_them(cases: Any) -> None:
    case = open_claim(cases)
    menu = call(cases, "add_task", case["id"], 1, {"key": "call", "assignee": "agent-2"})
    assert (menu["task"]["kind"], menu["task"]["title"], menu["task"]["assignee"]) == (
        "discretionary",
        "Call the claimant",
        "agent-2",
    )
    assert menu["task"]["due_at"] is not None, "due_in_hours from the menu"
    adhoc = call(
        cases, "add_task", case["id"], 2, {"title": "Chase the surveyor", "due_at": "2030-01-01T09:00:00Z"}
    )
    assert (adhoc["task"]["kind"], adhoc["task"]["due_at"]) == ("adhoc", "2030-01-01T09:00:00+00:00")
    with pytest.raises(InvalidInput) as bad:
        call(cases, "add_task", case["id"], 3, {"key": "not_on_menu"})
    assert bad.value.fields[0]["field"] == "key"
    with pytest.raises(InvalidInput):
        call(cases, "add_task", case["id"], 3, {})
    completed = call(cases, "edit_task", case["id"], 3, adhoc["task"]["id"], {"done": True}, context=AGENT2)
    assert (completed["task"]["done_by"], bool(completed["task"]["done_at"])) == ("agent-2", True)
    with pytest.raises(Conflict):
        call(cases, "edit_task", case["id"], 4, adhoc["task"]["id"], {"done": True})


def test_the_same_party_is_reused_across_cases_with_roles_and_relationships(cases: Any) -> None:
    first = open_claim(cases, customer={"name": "Ann", "email": "Ann@Example.org"})
    second = open_claim(cases, customer={"name": "Ann S.", "email": "ann@example.org", "phone": "+44 1234"})
    ann = first["parties"][0]["id"]
    assert second["parties"][0]["id"] == ann, "one person, one party"
    lawyer = call(
        cases,
        "add_party",
        first["id"],
        1,
        {
            "role": "representative",
            "party": {
                "name": "Lee & Co",
                "kind": "organisation",
                "email": "office@lee.example",
                "address": {"lines": ["1 High St"], "postcode": "AB1 2CD", "country": "GB"},
            },
        },
    )
    assert lawyer["party"]["address"]["postcode"] == "AB1 2CD"
    by_id = call(
        cases, "add_party", second["id"], 1, {"role": "representative", "party_id": lawyer["party"]["id"]}
    )
    assert by_id["party"]["name"] == "Lee & Co"
    with pytest.raises(Conflict):
        call(
            cases, "add_party", second["id"], 2, {"role": "representative", "party_id": lawyer["party"]["id"]}
        )
    related = call(
        cases,
        "add_relationship",
        first["id"],
        2,
        {"from_party_id": lawyer["party"]["id"], "to_party_id": ann, "kind": "represents"},
    )
    assert related["case"]["relationships"] == [related["relationship"]]
    with pytest.raises(InvalidInput) as stranger:
        call(
            cases,
            "add_relationship",
            first["id"],
            3,
            {"from_party_id": "x", "to_party_id": ann, "kind": "knows"},
        )
    assert stranger.value.fields[0]["field"] == "from_party_id"
    assert [p["id"] for p in call(cases, "find_parties", email="OFFICE@lee.example")] == [
        lawyer["party"]["id"]
    ]
    assert [p["name"] for p in call(cases, "find_parties", name="lee")] == ["Lee & Co"]
    assert call(cases, "find_parties", name="%") == []
    with pytest.raises(InvalidInput):
        call(cases, "find_parties")
    listed = call(cases, "list_cases", party_id=lawyer["party"]["id"])["items"]
    assert {c["id"] for c in listed} == {first["id"], second["id"]}


def test_links_show_on_both_cases(cases: Any, db_url: str) -> None:
    parent, child = open_claim(cases), open_claim(cases)
    linked = call(cases, "add_link", parent["id"], 1, {"target_id": child["id"], "kind": "parent_of"})
    assert linked["link"]["kind"] == "parent_of" and linked["case"]["version"] == 2
    other = call(cases, "get_case", child["id"])
    assert [(lk["kind"], lk["case_id"]) for lk in other["links"]] == [("child_of", parent["id"])]
    assert other["version"] == 2, "the other case changed too"
    with pytest.raises(Conflict):
        call(cases, "add_link", child["id"], 2, {"target_id": parent["id"], "kind": "related"})
    with pytest.raises(InvalidInput):
        call(cases, "add_link", child["id"], 2, {"target_id": child["id"], "kind": "related"})
    assert audit_actions(db_url, child["id"]) == ["case_opened", "case_linked"]


def test_merge_moves_notes_and_parties_and_leaves_a_link(cases: Any, db_url: str) -> None:
    survivor = open_claim(cases, customer={"name": "Ann", "email": "ann@example.org"})
    dup = open_claim(cases, customer={"name": "Bob", "email": "bob@example.org"})
    dup = call(cases, "add_note", dup["id"], 1, {"body": "Bob called"})["case"]
    dup = call(cases, "add_party", dup["id"], 2, {"role": "witness", "party": {"name": "Cy"}})["case"]
    with pytest.raises(InvalidInput):
        call(cases, "merge_case", dup["id"], 3, {"into": dup["id"]})
    merged = call(cases, "merge_case", dup["id"], 3, {"into": survivor["id"], "reason": "same incident"})
    source, after = merged["case"], merged["survivor"]
    assert (source["status"], source["resolution"], source["notes"], source["parties"]) == (
        "closed",
        "merged",
        [],
        [],
    )
    assert [(lk["kind"], lk["case_id"]) for lk in source["links"]] == [("merged_into", survivor["id"])]
    assert [(lk["kind"], lk["case_id"]) for lk in after["links"]] == [("merged_from", dup["id"])]
    assert [(n["body"], n["moved_from"]) for n in after["notes"]] == [("Bob called", dup["id"])]
    assert sorted((p["name"], p["role"]) for p in after["parties"]) == [
        ("Ann", "customer"),
        ("Bob", "customer"),
        ("Cy", "witness"),
    ]
    events = sql(
        db_url,
        "SELECT payload FROM outbox WHERE type = 'case_merged' ORDER BY id",
    )
    roles = {p["data"]["merge"]["role"]: p for (p,) in events}
    assert roles.keys() == {"source", "survivor"}
    survivor_event = roles["survivor"]
    assert survivor_event["case_id"] == survivor["id"]
    assert survivor_event["data"]["merge"]["source_case_id"] == dup["id"]
    assert survivor_event["data"]["case"]["version"] == survivor_event["case_version"] == after["version"]
    with pytest.raises(Conflict, match="merged"):
        call(cases, "reopen_case", dup["id"], source["version"], {"reason": "oops"})


def test_the_timeline_merges_everything_in_order_without_reads(cases: Any) -> None:
    case = open_claim(cases)
    case = call(cases, "add_note", case["id"], 1, {"body": "n1"})["case"]
    call(cases, "get_case", case["id"])  # a read: audited, not on the timeline
    case = call(cases, "add_task", case["id"], 2, {"title": "t1"})["case"]
    case = call(cases, "update_case", case["id"], 3, {"priority": "low"})
    items = call(cases, "timeline", case["id"])["items"]
    assert [i["action"] for i in items] == ["case_opened", "note_added", "task_added", "case_updated"]
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
    assert items[1]["detail"]["note"]["body"] == "n1"
    assert "case_read" in [e["action"] for e in call(cases, "audit_trail", case["id"])]
    page = call(cases, "timeline", case["id"], after=0, limit=2)
    assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["seq"]


def test_lists_filter_sort_and_page(cases: Any) -> None:
    made = {p: open_claim(cases, priority=p, title=f"{p} claim") for p in ("low", "urgent", "normal", "high")}
    by_priority = call(cases, "list_cases", sort="priority")["items"]
    assert [c["priority"] for c in by_priority] == ["urgent", "high", "normal", "low"]
    assert [c["priority"] for c in call(cases, "list_cases", sort="-priority")["items"]] == [
        "low",
        "normal",
        "high",
        "urgent",
    ]
    oldest = [c["id"] for c in call(cases, "list_cases", sort="age")["items"]]
    assert oldest == [made[p]["id"] for p in ("low", "urgent", "normal", "high")]
    due = call(cases, "list_cases", sort="due")["items"]
    assert [c["due_at"] for c in due] == sorted(c["due_at"] for c in due)
    updated = call(cases, "update_case", made["low"]["id"], 1, {"title": "touched"})
    assert call(cases, "list_cases", sort="updated")["items"][0]["id"] == updated["id"]
    assert [c["id"] for c in call(cases, "list_cases", priority="urgent")["items"]] == [made["urgent"]["id"]]
    assert call(cases, "list_cases", stage="assessing")["items"] == []
    for sort in ("priority", "-due", "age", "updated"):
        seen, cursor = [], None
        for _ in range(10):
            page = call(cases, "list_cases", sort=sort, limit=1, cursor=cursor)
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [c["id"] for c in call(cases, "list_cases", sort=sort)["items"]], sort
    with pytest.raises(InvalidInput):
        call(cases, "list_cases", sort="priority", cursor=page["next_cursor"] or "junk")
    with pytest.raises(InvalidInput):
        call(cases, "list_cases", sort="colour")
