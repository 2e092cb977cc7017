"""A supervisor re-applies a changed rule set from the console: preview, then move (headless
Chromium against the real suite)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from casekit.testing.suite import Client
from casekit.testing.waiting import eventually
from tests.browser.conftest import PASSWORD, Console, open_case

pytestmark = pytest.mark.e2e

KEYS = ("default_queue", "queues", "rules")


def work_item(client: Client, case_id: str) -> dict[str, Any] | None:
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()["work_item"]


def put_rules(admin: Client, document: dict[str, Any]) -> None:
    etag = admin.get("/api/v1/routing/rules").headers["ETag"]
    response = admin.request("PUT", "/api/v1/routing/rules", json=document, headers={"If-Match": etag})
    assert response.status_code == 200, response.text


@pytest.fixture
def new_rule(admin: Client) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """A product of its own and a rule sending it to a queue of its own; the rules in force
    before are put back afterwards (the suite is shared with the other journeys)."""
    before = {k: admin.get("/api/v1/routing/rules").json()[k] for k in KEYS}
    tag = uuid.uuid4().hex[:6]
    product, queue = f"reroute-{tag}", f"rerouted-{tag}"
    rule = {"id": product, "when": {"data": {"product": product}}, "then": {"queue": queue}}
    changed = {**before, "queues": [*before["queues"], {"name": queue}], "rules": [rule, *before["rules"]]}
    yield product, queue, changed
    put_rules(admin, before)


def test_preview_then_move_the_waiting_cases_a_new_rule_sends_elsewhere(
    console: Console, admin: Client, new_rule: tuple[str, str, dict[str, Any]]
) -> None:
    product, queue, rules = new_rule
    case = open_case(admin, "Routed before the rule changed", data={"product": product, "amount": 40})
    eventually(lambda: work_item(admin, case["id"]) is not None, timeout=30)
    was = work_item(admin, case["id"])["queue"]
    assert was != queue
    put_rules(admin, rules)

    console.sign_in("supervisor1", PASSWORD)
    page = console.page
    page.get_by_role("link", name="Supervisor").click()
    page.get_by_role("heading", name="Re-apply routing rules").wait_for()
    page.get_by_role("button", name="Preview", exact=True).click()
    moves = page.get_by_role("table", name="Cases the rules would move")
    row = moves.get_by_role("row").filter(has_text=case["reference"])
    row.wait_for()
    assert [c.strip() for c in row.get_by_role("cell").all_inner_texts()] == [
        case["reference"],
        was,
        queue,
        product,  # the rule's id, which here is the product's name too
    ]
    assert work_item(admin, case["id"])["queue"] == was, "a preview moves nothing"
    console.shot("supervisor-reroute")

    page.get_by_role("button", name=re.compile(r"^Move \d+ case")).click()
    console.toast("Moved")
    assert work_item(admin, case["id"])["queue"] == queue
