"""Search over HTTP through the whole suite: trimming per user, facets, suggestions, lookup, cursors."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client
from tests.e2e.conftest import PASSWORD, eventually

pytestmark = pytest.mark.e2e


def user(suite: Suite, role: str, *teams: str) -> Client:
    name = f"{role}-{'-'.join(teams) or 'none'}-{uuid.uuid4().hex[:6]}"
    argv = [suite.python, "-m", "gateway.cli", "create-user", name, "--role", role, "--password", PASSWORD]
    for team in teams:
        argv += ["--team", team]
    subprocess.run(argv, cwd=infra.ROOT, env={**os.environ, **suite.env}, check=True, capture_output=True)
    return Client(suite.gateway_url, name, PASSWORD)


def open_case(admin: Client, title: str, email: str, **extra: object) -> dict:
    body = {"type": "complaint", "title": title, "customer": {"name": "Ann Example", "email": email}, **extra}
    response = admin.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def search(client: Client, q: str, **params: object) -> dict:
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_each_user_sees_exactly_the_cases_they_may_open(suite: Suite, admin: Client, auditor: Client) -> None:
    canary = f"canary{uuid.uuid4().hex[:8]}"
    email = f"{canary}@example.org"
    cases = {
        "open": open_case(admin, f"{canary} open case", email),
        "north": open_case(admin, f"{canary} north case", email, team="north"),
        "sealed": open_case(admin, f"{canary} sealed case", email, team="north", restricted=True),
        "south": open_case(admin, f"{canary} south case", email, team="south", priority="urgent"),
    }
    ids = {k: c["id"] for k, c in cases.items()}
    eventually(lambda: search(admin, canary)["total_hits"] == 4 or None)
    users = {
        "admin": admin,
        "auditor": auditor,
        "north agent": user(suite, "agent", "north"),
        "north supervisor": user(suite, "supervisor", "north"),
        "south agent": user(suite, "agent", "south"),
        "teamless agent": user(suite, "agent"),
    }
    sees = {
        "admin": {"open", "north", "sealed", "south"},
        "auditor": {"open", "north", "sealed", "south"},
        "north agent": {"open", "north"},
        "north supervisor": {"open", "north", "sealed"},
        "south agent": {"open", "south"},
        "teamless agent": {"open"},
    }
    for name, client in users.items():
        wanted = {ids[k] for k in sees[name]}
        result = search(client, canary, facets="true", limit=50)
        assert {i["case_id"] for i in result["items"]} == wanted, name
        assert result["total_hits"] == len(wanted), name
        priorities = {b["value"]: b["count"] for b in result["facets"]["priority"]}
        assert sum(priorities.values()) == len(wanted) and priorities.get("urgent", 0) == (
            "south" in sees[name]
        )
        suggest = client.get("/api/v1/search/suggest", params={"prefix": canary[:-2]}).json()
        assert suggest["terms"] == [{"text": canary, "count": len(wanted)}], name
        assert {c["case_id"] for c in suggest["cases"]} == wanted, name
        lookup = client.get("/api/v1/search/lookup", params={"email": email.upper()}).json()
        assert {i["case_id"] for i in lookup["items"]} == wanted, name
        by_reference = search(client, cases["sealed"]["reference"])["items"]
        assert [i["case_id"] for i in by_reference] == ([ids["sealed"]] if "sealed" in sees[name] else []), (
            name
        )


def test_filters_sorting_cursor_and_highlights(admin: Client) -> None:
    word = f"gutter{uuid.uuid4().hex[:8]}"
    opened = [
        open_case(admin, f"{word} report {n}", f"g{n}.{word}@example.org", priority=p)
        for n, p in enumerate(["low", "high", "urgent"])
    ]
    eventually(lambda: search(admin, word)["total_hits"] == 3 or None)

    by_priority = search(admin, word, sort="priority")["items"]
    assert [i["case_id"] for i in by_priority] == [opened[2]["id"], opened[1]["id"], opened[0]["id"]]
    assert {i["case_id"] for i in search(admin, f"{word} priority:>=high")["items"]} == {
        opened[1]["id"],
        opened[2]["id"],
    }
    assert search(admin, word, min_priority="urgent")["total_hits"] == 1
    hit = search(admin, word)["items"][0]
    assert hit["matched_in"] == ["case"] and hit["highlights"][0]["where"] == "title"
    assert f"<b>{word}</b>" in hit["highlights"][0]["snippet"]
    seen, cursor = [], None
    for _ in range(5):
        page = search(admin, word, limit=1, sort="newest", **({"cursor": cursor} if cursor else {}))
        seen += [i["case_id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [c["id"] for c in reversed(opened)]


def test_operators_see_status_and_bad_requests_are_problems(
    admin: Client, agent: Client, anonymous: Client
) -> None:
    status = admin.get("/api/v1/search/status")
    assert status.status_code == 200 and status.json()["engine"] == "embedded"
    assert set(status.json()["lag"]) >= {"oldest_unindexed_age_s", "lag_p99_ms"}
    assert agent.get("/api/v1/search/status").status_code == 403
    assert anonymous.get("/api/v1/search", params={"q": "x"}).status_code == 401
    assert admin.get("/api/v1/search/lookup").status_code == 422
    bad_cursor = admin.get("/api/v1/search", params={"q": "x", "cursor": "nonsense"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    assert admin.get("/api/v1/search", params={"q": "x", "sort": "sideways"}).status_code == 422
