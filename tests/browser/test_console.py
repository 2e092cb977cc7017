"""The console's journeys in headless Chromium: each saves desktop and phone screenshots and
passes axe-core with no serious or critical violation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from casekit.testing.suite import Client
from casekit.testing.waiting import eventually
from tests.browser.conftest import PASSWORD, Console, open_case, staff

pytestmark = pytest.mark.e2e

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000100000001008020000009091683600000017494441547801"
    "63fccf4002c0c4401a18d5301a1835000057c701ff2b7f2a6e0000000049454e44ae426082"
)


def folder(client: Client, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_sign_in_shows_my_work_and_keeps_the_token_out_of_urls(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_label("Username").fill("agent1")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong username or password").wait_for()
    console.shot("sign-in")
    console.sign_in("agent1", PASSWORD)
    page.get_by_role("heading", name=re.compile("Open cases")).wait_for()
    assert console.token and console.token not in page.url
    console.shot("my-work")


def test_work_the_checklist_add_a_note_and_move_the_stage(
    console: Console, admin: Client, agent: Client
) -> None:
    case = open_case(admin, "Overcharged on my gas bill")
    console.sign_in("agent1", PASSWORD)
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name="Overcharged on my gas bill").wait_for()
    console.settled()
    console.shot("case-folder")

    page.get_by_label("Acknowledge receipt to the customer").check()
    console.toast("Done: Acknowledge receipt")
    console.shot("checklist")
    tasks = {t["key"]: t for t in folder(agent, case["id"])["tasks"]}
    assert tasks["acknowledged"]["done_at"] is not None and tasks["acknowledged"]["done_by"]

    page.get_by_label("Add a task").select_option("call_customer")
    page.get_by_role("button", name="Add task").click()
    page.get_by_label("Call the customer").wait_for()
    assert any(t["key"] == "call_customer" for t in folder(agent, case["id"])["tasks"])

    page.get_by_label("New note").fill("Called Ann: she will send the March bill.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Called Ann: she will send the March bill.").wait_for()
    console.shot("note")
    notes = folder(agent, case["id"])["notes"]
    assert [n["body"] for n in notes] == ["Called Ann: she will send the March bill."]
    assert notes[0]["author"]

    page.get_by_role("button", name="Move to Investigating").click()
    page.get_by_role("button", name="Move to Final response sent").wait_for()
    console.shot("stage-moved")
    assert folder(agent, case["id"])["stage"] == "investigating"


def test_upload_a_document_and_preview_it(console: Console, admin: Client, agent: Client) -> None:
    case = open_case(admin, "Photo of the meter")
    console.sign_in("agent1", PASSWORD)
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name="Photo of the meter").wait_for()
    console.settled()
    page.get_by_label("Kind").select_option("photo")
    page.get_by_label("Files to upload").set_input_files(
        files=[{"name": "meter.png", "mimeType": "image/png", "buffer": PNG}]
    )
    console.toast("Uploaded meter.png")
    page.get_by_role("button", name="Preview meter.png").click()
    page.get_by_role("img", name="Preview of meter.png").wait_for()
    console.shot("document-preview")
    docs = folder(agent, case["id"])["documents"]
    assert [(d["filename"], d["kind"], d["media_type"]) for d in docs] == [
        ("meter.png", "photo", "image/png")
    ]


def test_search_and_open_a_case(console: Console, admin: Client) -> None:
    case = open_case(admin, "Smart meter reading disputed by a pensioner")
    eventually(
        lambda: admin.get("/api/v1/search", params={"q": "pensioner"}).json()["total_hits"] >= 1,
        timeout=30,
    )
    console.sign_in("agent1", PASSWORD)
    page = console.page
    page.get_by_role("searchbox", name="Search cases").fill("pensioner")
    page.get_by_role("button", name="Search", exact=True).click()
    result = page.get_by_role("link", name=re.compile(case["reference"]))
    result.wait_for()
    # instant results (typeahead) may show first; the full results bring the highlighted snippets
    page.locator("mark", has_text=re.compile("pensioner", re.I)).first.wait_for()
    console.shot("search")
    result.click()
    page.get_by_role("heading", name="Smart meter reading disputed by a pensioner").wait_for()
    console.settled()

    page.get_by_label("Look up by").select_option("reference")
    page.get_by_label("Lookup value").fill(case["reference"])
    page.get_by_role("button", name="Look up").click()
    assert page.get_by_text(case["reference"]).first.is_visible()


def test_supervisor_overrides_a_stage_with_a_reason(
    console: Console, admin: Client, supervisor: Client
) -> None:
    case = open_case(admin, "Escalated by the ombudsman")
    console.sign_in("supervisor1", PASSWORD)
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name="Escalated by the ombudsman").wait_for()
    console.settled()
    page.get_by_text("Supervisor override").click()
    page.get_by_label("Move to stage").select_option("responded")
    page.get_by_role("button", name="Override").click()
    console.toast("needs a reason")
    page.get_by_label("Reason (audited)").fill("Ombudsman asked for a final response today")
    page.get_by_role("button", name="Override").click()
    console.toast("Stage overridden")
    console.shot("supervisor-override")
    assert folder(supervisor, case["id"])["stage"] == "responded"


def test_get_next_case(console: Console, admin: Client, agent: Client) -> None:
    case = open_case(admin, "Next in line: billing error", priority="urgent")
    eventually(lambda: folder(agent, case["id"])["work_item"] is not None, timeout=30)
    queue = folder(agent, case["id"])["work_item"]["queue"]
    me = staff(admin, queue, agent)
    routed = admin.get(f"/api/v1/cases/{case['id']}/routing").json()
    skills = (routed.get("work_item") or routed).get("required_skills") or []
    profile = admin.request("PUT", f"/api/v1/agents/{me}", json={"skills": skills, "capacity": 50})
    assert profile.status_code == 200, profile.text
    console.sign_in("agent1", PASSWORD)
    page = console.page
    page.get_by_role("button", name="Get next case").click()
    console.toast("Assigned to you")
    page.locator("#folder-title").wait_for()
    console.shot("get-next-case")
    claimed = page.locator(".folder-head .ref").inner_text()
    mine = agent.get("/api/v1/me/work").json()["items"]
    assert claimed in [i["reference"] for i in mine]
    assert all(i["assigned_to"] == me for i in mine)


def test_send_an_email(console: Console, admin: Client, agent: Client) -> None:
    case = open_case(admin, "Please write to me")
    console.sign_in("agent1", PASSWORD)
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name="Please write to me").wait_for()
    console.settled()
    page.get_by_label("Channel").select_option("email")
    page.get_by_label("Template").select_option("acknowledgement")
    page.get_by_role("button", name="Send").click()
    console.toast("queued for sending")
    # the folder reloads after sending; on a loaded machine a slow part is retried once (2 x RPC timeout)
    page.get_by_role("heading", name="Messages (1)").wait_for(timeout=60000)
    console.shot("send-email")
    sent = agent.get(f"/api/v1/cases/{case['id']}/messages").json()
    assert [(m["channel"], m["to"]) for m in sent] == [("email", case["parties"][0]["emails"][0])]
    assert case["reference"] in sent[0]["subject"] + sent[0]["body"]


def name_agent(admin: Client, user_id: str, display_name: str) -> None:
    """Give an agent's profile a display name (If-Match with the profile's ETag when it has one)."""
    etag = admin.get(f"/api/v1/agents/{user_id}").headers.get("ETag")
    response = admin.request(
        "PUT",
        f"/api/v1/agents/{user_id}",
        json={"display_name": display_name},
        headers={"If-Match": etag} if etag else {},
    )
    assert response.status_code == 200, response.text


def test_supervisor_assigns_through_the_picker(
    console: Console, admin: Client, agent: Client, supervisor: Client
) -> None:
    case = open_case(admin, "Reassign me please")
    eventually(lambda: folder(supervisor, case["id"])["work_item"] is not None, timeout=30)
    queue = folder(supervisor, case["id"])["work_item"]["queue"]
    agent_id = staff(admin, queue, agent)
    supervisor_id = staff(admin, queue, supervisor, "supervisor")
    name_agent(admin, agent_id, "Alex Agent")
    console.sign_in("supervisor1", PASSWORD)
    console.go(f"#/case/{case['id']}")
    page = console.page
    page.get_by_role("heading", name="Reassign me please").wait_for()
    console.settled()

    # agents by display name with their load, picked from a labelled list
    picker = page.get_by_label("Assign to", exact=True)
    offered = picker.locator(f'option[value="{agent_id}"]').inner_text()
    assert re.match(r"Alex Agent — \d+ of \d+ cases", offered), offered
    picker.select_option(agent_id)
    page.get_by_text(re.compile(r"Alex Agent has \d+ open cases? for a capacity of \d+")).wait_for()
    page.get_by_label("Reason (optional)").fill("Ann's account manager")
    page.get_by_role("button", name="Assign", exact=True).click()
    console.toast("Assigned to Alex Agent")
    page.locator(".assigned", has_text="Assigned to Alex Agent").wait_for()
    assert page.locator("#assignee-fact").inner_text() == "Alex Agent"
    console.shot("supervisor-reassign")
    assert folder(supervisor, case["id"])["work_item"]["assigned_to"] == agent_id

    # a typed user id still works; one who is not in the queue is refused next to the field
    page.get_by_label("Reassign to", exact=True).select_option(label="Someone else: type a user id")
    page.get_by_label("User id", exact=True).fill("nobody-in-this-queue")
    page.get_by_role("button", name="Reassign", exact=True).click()
    console.toast("One field needs a change")
    error = page.locator(".field", has=page.get_by_label("User id", exact=True)).locator(".field-error")
    assert "not a member of queue" in error.inner_text()
    assert page.get_by_label("User id", exact=True).get_attribute("aria-invalid") == "true"
    page.get_by_label("User id", exact=True).fill(supervisor_id)
    page.get_by_role("button", name="Reassign", exact=True).click()
    console.toast("Assigned to you")
    page.locator(".assigned", has_text="Assigned to you").wait_for()
    assert folder(supervisor, case["id"])["work_item"]["assigned_to"] == supervisor_id


def test_supervisor_reads_the_reports_and_the_process_graph(console: Console) -> None:
    console.sign_in("supervisor1", PASSWORD)
    page = console.page
    page.get_by_role("link", name="Supervisor").click()
    page.get_by_role("heading", name="Supervisor", exact=True).wait_for()
    page.get_by_role("heading", name=re.compile("Load per agent")).wait_for()
    console.shot("supervisor-queue")
    page.get_by_role("link", name="Reports").click()
    graph = page.get_by_role("img", name=re.compile("Process graph"))
    graph.wait_for()
    page.get_by_label("Report", exact=True).select_option("opened")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("img", name=re.compile("Chart: opened")).wait_for()
    assert graph.evaluate("img => img.naturalWidth") > 0
    console.shot("reports")
