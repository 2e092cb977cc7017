"""The case folder's editing journeys in headless Chromium: edit a note and read its history, add
a party and link another case (with the API's field errors shown next to the field). Each saves
desktop and phone screenshots and passes axe-core with no serious or critical violation."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from casekit.testing.suite import Client
from casekit.testing.waiting import eventually
from tests.browser.conftest import PASSWORD, Console, open_case

pytestmark = pytest.mark.e2e


def folder(client: Client, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def add_note(client: Client, case_id: str, body: str) -> dict[str, Any]:
    """A note written through the API (If-Match with the case's ETag), as ``client``."""
    etag = client.get(f"/api/v1/cases/{case_id}").headers["ETag"]
    response = client.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"body": body, "visibility": "internal"},
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.text
    return response.json()["note"]


def show_case(console: Console, case: dict[str, Any]) -> Any:
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name=case["title"]).wait_for()
    console.settled()
    return page


def field_error(page: Any, label: str) -> Any:
    """The error shown under the control labelled ``label``, which says it is invalid."""
    control = page.get_by_label(label, exact=True)
    control.and_(page.locator("[aria-invalid=true]")).wait_for()
    described = control.get_attribute("aria-describedby") or ""
    error = page.locator(".field", has=control).locator(".field-error")
    assert error.get_attribute("id") in described.split(), (label, described)
    return error


def test_edit_a_note_and_read_its_history(console: Console, admin: Client, agent: Client) -> None:
    case = open_case(admin, "Meter read twice in March")
    note = add_note(agent, case["id"], "Ann says the reading of 3 March is wrong.")
    other = add_note(admin, case["id"], "A remark by the admin.")
    console.sign_in("agent1", PASSWORD)
    page = show_case(console, case)
    # a note of someone else's is not the agent's to edit
    page.locator(f'[data-note-id="{other["id"]}"]').get_by_text("A remark by the admin.").wait_for()
    assert page.locator(f'[data-note-id="{other["id"]}"] .note-edit').count() == 0

    item = page.locator(f'[data-note-id="{note["id"]}"]')
    item.get_by_role("button", name=re.compile("^Edit")).click()
    editor = item.get_by_label("Edit the note")
    assert editor.input_value() == "Ann says the reading of 3 March is wrong."
    editor.fill("Ann says the reading of 3 March is wrong: the meter shows 10234, not 12034.")
    item.get_by_label("Visibility of this note").select_option("customer")
    item.get_by_role("button", name="Save note").click()
    console.toast("Note saved (revision 2)")
    item.get_by_text("edited, rev 2").wait_for()
    item.get_by_text("the meter shows 10234, not 12034.").wait_for()

    item.get_by_role("button", name="History (1 earlier)").click()
    item.get_by_role("list", name="Earlier revisions of this note").get_by_text(
        "Ann says the reading of 3 March is wrong.", exact=True
    ).wait_for()
    console.settled()
    console.shot("note-edited")

    kept = agent.get(f"/api/v1/cases/{case['id']}/notes/{note['id']}")
    assert kept.status_code == 200, kept.text
    kept = kept.json()
    assert kept["body"] == "Ann says the reading of 3 March is wrong: the meter shows 10234, not 12034."
    assert (kept["revision"], kept["visibility"]) == (2, "customer")
    assert [(h["revision"], h["body"], h["visibility"]) for h in kept["history"]] == [
        (1, "Ann says the reading of 3 March is wrong.", "internal")
    ]


def test_add_a_party_with_a_field_error_shown_next_to_the_field(
    console: Console, admin: Client, agent: Client
) -> None:
    case = open_case(admin, "The customer's son writes for her")
    email = f"bob.{uuid.uuid4().hex[:6]}@example.org"
    console.sign_in("agent1", PASSWORD)
    page = show_case(console, case)

    page.get_by_text("Add a party").click()
    page.get_by_label("Name", exact=True).fill("Bob Smith")
    page.get_by_label("Role", exact=True).fill("representative")
    page.get_by_label("Email", exact=True).fill(email.replace("@", " at "))
    page.get_by_label("Phone", exact=True).fill("+44 20 7946 0991")
    page.get_by_role("button", name="Add party").click()
    console.toast("One field needs a change")
    error = field_error(page, "Email")
    assert "email" in error.inner_text().lower()
    assert page.get_by_label("Email", exact=True).evaluate("el => el === document.activeElement")
    console.shot("party-field-error")
    assert [p["name"] for p in folder(agent, case["id"])["parties"]] == ["Ann Smith"]

    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Add party").click()
    console.toast("Added Bob Smith as representative")
    page.get_by_role("list", name="Parties").get_by_text("Bob Smith").wait_for()
    assert page.locator(".field-error").count() == 0
    console.shot("party-added")
    added = [p for p in folder(agent, case["id"])["parties"] if p["name"] == "Bob Smith"]
    assert [(p["role"], p["emails"], len(p["phones"])) for p in added] == [("representative", [email], 1)]
    assert re.sub(r"\D", "", added[0]["phones"][0]).endswith("2079460991")


def test_link_another_case_by_reference(console: Console, admin: Client, agent: Client) -> None:
    case = open_case(admin, "Second complaint about the same bill")
    first = open_case(admin, "First complaint about the March bill")
    eventually(
        lambda: admin.get("/api/v1/search/lookup", params={"reference": first["reference"]}).json()["items"],
        timeout=30,
    )
    console.sign_in("agent1", PASSWORD)
    page = show_case(console, case)

    page.get_by_text("Link another case").click()
    # an id no case has: the API's 422 names the field, shown under it
    page.get_by_label("Other case (reference or id)").fill(str(uuid.uuid4()))
    page.get_by_role("button", name="Link case").click()
    console.toast("One field needs a change")
    assert "no such case" in field_error(page, "Other case (reference or id)").inner_text().lower()

    page.get_by_label("This case is").select_option("duplicate_of")
    page.get_by_label("Other case (reference or id)").fill(first["reference"].lower())
    page.get_by_role("button", name="Link case").click()
    console.toast(f"this case is a duplicate of {first['reference']}")
    page.get_by_role("list", name="Linked cases").get_by_role("link", name=first["reference"]).wait_for()
    console.shot("case-linked")

    links = folder(agent, case["id"])["links"]
    assert [(lk["kind"], lk["case_id"]) for lk in links] == [("duplicate_of", first["id"])]
    theirs = folder(agent, first["id"])["links"]
    assert [(lk["kind"], lk["case_id"]) for lk in theirs] == [("duplicated_by", case["id"])]
