"""The case folder and its process over HTTP: If-Match on every change (428, 412), two racing
updates, stages with checklists and overrides, notes, tasks, parties, links, merge, timeline,
intake, case types and their migration, list filters and sorts."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from typing import Any

import psycopg2
import pytest
import requests

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client
from tests.e2e.conftest import superuser_connect

pytestmark = pytest.mark.e2e


def open_case(client: Client, **extra: Any) -> dict[str, Any]:
    body = {"type": "complaint", "title": f"Process {uuid.uuid4().hex[:6]}", "priority": "high", **extra}
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def send(client: Client, method: str, path: str, version: int | None, **kwargs: Any) -> requests.Response:
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return client.request(method, path, headers=headers, **kwargs)


def ok(response: requests.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def test_changes_need_if_match_and_a_stale_one_is_412(admin: Client) -> None:
    case = open_case(admin)
    path = f"/api/v1/cases/{case['id']}"
    missing = send(admin, "PATCH", path, None, json={"title": "new"})
    assert (missing.status_code, missing.json()["code"]) == (428, "PRECONDITION_REQUIRED")
    star = admin.request("PATCH", path, json={"title": "new"}, headers={"If-Match": "*"})
    assert star.status_code == 428, "any version is no precondition"
    stale = send(admin, "PATCH", path, 7, json={"title": "new"})
    assert (stale.status_code, stale.json()["code"]) == (412, "STALE_VERSION")
    changed = send(admin, "PATCH", path, 1, json={"title": "new"})
    assert ok(changed)["title"] == "new" and changed.headers["ETag"] == '"2"'
    assert admin.get(path).headers["ETag"] == '"2"'
    invalid = send(admin, "PATCH", path, 2, json={"data": {"amount": -1}})
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == [
        {"field": "data.amount", "message": "-1 is less than the minimum of 0"}
    ]


def test_two_concurrent_updates_one_wins_the_other_gets_412(admin: Client, supervisor: Client) -> None:
    case = open_case(admin)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def update(client: Client, title: str) -> None:
        barrier.wait()
        statuses.append(
            send(client, "PATCH", f"/api/v1/cases/{case['id']}", 1, json={"title": title}).status_code
        )

    threads = [threading.Thread(target=update, args=(c, t)) for c, t in ((admin, "a"), (supervisor, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 412]
    assert admin.get(f"/api/v1/cases/{case['id']}").json()["version"] == 2


def test_stages_follow_the_path_checklists_block_and_overrides_need_a_reason(
    agent: Client, supervisor: Client, auditor: Client
) -> None:
    case = open_case(agent)
    base = f"/api/v1/cases/{case['id']}"
    blocked = send(agent, "POST", f"{base}/transitions", 1, json={"to": "investigating"})
    assert blocked.status_code == 409 and "acknowledged" in blocked.json()["detail"]
    item = next(t for t in case["tasks"] if t["key"] == "acknowledged")
    after = ok(send(agent, "PATCH", f"{base}/tasks/{item['id']}", 1, json={"done": True}))["case"]
    moved = ok(send(agent, "POST", f"{base}/transitions", after["version"], json={"to": "investigating"}))
    assert moved["stage"] == "investigating"
    jump = send(agent, "POST", f"{base}/transitions", moved["version"], json={"to": "closed"})
    assert jump.status_code == 403
    assert (
        send(auditor, "POST", f"{base}/transitions", moved["version"], json={"to": "responded"}).status_code
        == 403
    )
    no_reason = send(supervisor, "POST", f"{base}/transitions", moved["version"], json={"to": "received"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    back = ok(
        send(
            supervisor,
            "POST",
            f"{base}/transitions",
            moved["version"],
            json={"to": "received", "reason": "wrong"},
        )
    )
    assert back["stage"] == "received"
    closed = send(supervisor, "POST", f"{base}/close", back["version"], json={"resolution": "upheld"})
    assert ok(closed)["status"] == "closed" and closed.json()["retention_days"] == 2190
    refused = send(agent, "POST", f"{base}/notes", closed.json()["version"], json={"body": "late"})
    assert refused.status_code == 409
    reopened = ok(
        send(agent, "POST", f"{base}/reopen", closed.json()["version"], json={"reason": "customer replied"})
    )
    assert reopened["status"] == "open"
    timeline = ok(agent.get(f"{base}/timeline"))["items"]
    assert [i["action"] for i in timeline] == [
        "case_opened",
        "task_completed",
        "case_transitioned",
        "case_transitioned",
        "case_closed",
        "case_reopened",
    ]
    assert timeline[3]["detail"]["override"] is True and timeline[3]["detail"]["reason"] == "wrong"
    assert ok(agent.get(f"{base}/audit/verify"))["ok"] is True


def test_the_folder_notes_tasks_parties_links_and_merge(admin: Client) -> None:
    survivor = open_case(admin, customer={"name": "Ann", "email": f"ann.{uuid.uuid4().hex[:6]}@example.org"})
    dup = open_case(admin)
    base = f"/api/v1/cases/{dup['id']}"
    note = ok(send(admin, "POST", f"{base}/notes", 1, json={"body": "first", "visibility": "customer"}))
    edited = ok(send(admin, "PATCH", f"{base}/notes/{note['note']['id']}", 2, json={"body": "second"}))
    assert edited["note"]["revision"] == 2
    assert [h["body"] for h in ok(admin.get(f"{base}/notes/{note['note']['id']}"))["history"]] == ["first"]
    task = ok(send(admin, "POST", f"{base}/tasks", 3, json={"key": "call_customer"}))
    assert task["task"]["kind"] == "discretionary" and task["task"]["due_at"]
    party = ok(
        send(admin, "POST", f"{base}/parties", 4, json={"role": "representative", "party": {"name": "Lee"}})
    )
    linked = ok(
        send(admin, "POST", f"{base}/links", 5, json={"target_id": survivor["id"], "kind": "duplicate_of"})
    )
    assert linked["link"] == {"id": linked["link"]["id"], "kind": "duplicate_of", "case_id": survivor["id"]}
    survivor_now = admin.get(f"/api/v1/cases/{survivor['id']}").json()
    merged = send(
        admin, "POST", f"{base}/merge", 6, json={"into": survivor["id"], "reason": "same complaint"}
    )
    result = ok(merged)
    assert merged.headers["ETag"] == '"7"' and result["case"]["resolution"] == "merged"
    after = result["survivor"]
    assert after["version"] == survivor_now["version"] + 1
    assert [n["body"] for n in after["notes"]] == ["second"]
    assert party["party"]["id"] in [p["id"] for p in after["parties"]]
    assert [(lk["kind"], lk["case_id"]) for lk in after["links"]] == [
        ("duplicated_by", dup["id"]),
        ("merged_from", dup["id"]),
    ]


def test_intake_threads_and_ignores_a_redelivery(admin: Client) -> None:
    sender = {"name": "Ivy", "email": f"ivy.{uuid.uuid4().hex[:6]}@example.org"}
    item = {
        "channel": "email",
        "provider_id": uuid.uuid4().hex,
        "sender": sender,
        "subject": "Broken meter",
        "body": "It spins backwards",
        "thread": {"message_id": f"<{uuid.uuid4().hex}@mail>"},
    }
    first = ok(admin.post("/api/v1/intake", json=item))
    assert first["created"] is True
    case = admin.get(f"/api/v1/cases/{first['case_id']}").json()
    assert case["type"] == "complaint" and case["channel"] == "email"
    again = ok(admin.post("/api/v1/intake", json=item))
    assert (again["duplicate"], again["case_id"]) == (True, first["case_id"])
    reply = {
        **item,
        "provider_id": uuid.uuid4().hex,
        "sender": {"name": "Other", "email": "other@example.org"},
        "subject": "Re: Broken meter",
        "thread": {"in_reply_to": item["thread"]["message_id"]},
    }
    assert ok(admin.post("/api/v1/intake", json=reply))["matched_by"] == "thread"
    by_reference = {
        **reply,
        "provider_id": uuid.uuid4().hex,
        "thread": {},
        "subject": f"About {case['reference']}",
    }
    assert ok(admin.post("/api/v1/intake", json=by_reference))["matched_by"] == "reference"
    actions = [i["action"] for i in admin.get(f"/api/v1/cases/{case['id']}/timeline").json()["items"]]
    assert actions == ["case_opened", "intake_received", "intake_received", "intake_received"]


def test_case_types_are_versioned_and_migrated_with_a_dry_run(admin: Client, agent: Client) -> None:
    key = f"t{uuid.uuid4().hex[:8]}"
    v1 = {"key": key, "name": "Temp", "prefix": "TMP", "stages": [{"key": "a"}, {"key": "b"}]}
    assert ok(admin.post("/api/v1/case-types", json=v1), 201)["version"] == 1
    bad = admin.post("/api/v1/case-types", json={**v1, "transitions": [{"from": "a", "to": "zzz"}]})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "definition.transitions.0.to", "message": "'zzz' is not a stage"}
    ]
    assert agent.post("/api/v1/case-types", json=v1).status_code == 403
    case = open_case(admin, type=key)
    v2 = {
        **v1,
        "stages": [{"key": "a", "checklist": [{"key": "x", "title": "X", "required": True}]}, {"key": "b"}],
    }
    assert ok(admin.post("/api/v1/case-types", json=v2), 201)["version"] == 2
    assert (
        ok(admin.get(f"/api/v1/case-types/{key}", params={"version": 1}))["definition"]["stages"]
        == v1["stages"]
    )
    dry = ok(admin.post(f"/api/v1/case-types/{key}/migrations", json={"dry_run": True}))
    assert [(p["case_id"], p["changes"]) for p in dry["cases"]] == [
        (case["id"], ["type_version 1 -> 2", "checklist items added: x"])
    ]
    assert admin.get(f"/api/v1/cases/{case['id']}").json()["type_version"] == 1
    applied = ok(admin.post(f"/api/v1/case-types/{key}/migrations", json={"dry_run": False}))
    assert applied["migrated"] == 1
    assert admin.get(f"/api/v1/cases/{case['id']}").json()["type_version"] == 2
    assert key in [t["key"] for t in ok(agent.get("/api/v1/case-types"))["items"]]


def test_lists_sort_and_filter(admin: Client) -> None:
    tag = uuid.uuid4().hex[:6]
    for priority in ("low", "urgent"):
        open_case(admin, priority=priority, title=f"sorted {tag}")
    page = ok(admin.get("/api/v1/cases", params={"sort": "priority", "priority": "urgent", "limit": 5}))
    assert page["items"] and {c["priority"] for c in page["items"]} == {"urgent"}
    by_due = ok(admin.get("/api/v1/cases", params={"sort": "due", "status": "open", "limit": 50}))["items"]
    dues = [c["due_at"] for c in by_due if c["due_at"]]
    assert dues == sorted(dues)
    assert admin.get("/api/v1/cases", params={"sort": "colour"}).status_code == 422


def test_the_api_describes_the_case_endpoints(anonymous: Client) -> None:
    paths = anonymous.get("/api/v1/docs/openapi.json").json()["paths"]
    for path in (
        "/api/v1/cases/{case_id}/transitions",
        "/api/v1/cases/{case_id}/close",
        "/api/v1/cases/{case_id}/reopen",
        "/api/v1/cases/{case_id}/notes",
        "/api/v1/cases/{case_id}/notes/{note_id}",
        "/api/v1/cases/{case_id}/tasks/{task_id}",
        "/api/v1/cases/{case_id}/parties",
        "/api/v1/cases/{case_id}/links",
        "/api/v1/cases/{case_id}/merge",
        "/api/v1/cases/{case_id}/timeline",
        "/api/v1/case-types/{key}/migrations",
        "/api/v1/intake",
    ):
        assert path in paths, path
    assert "patch" in paths["/api/v1/cases/{case_id}"]


def test_a_forged_audit_entry_is_named_by_verify(admin: Client, suite: Suite, app_sql: Any) -> None:
    case = open_case(admin)
    base = f"/api/v1/cases/{case['id']}"
    ok(send(admin, "POST", f"{base}/notes", 1, json={"body": "one"}))
    ok(send(admin, "POST", f"{base}/notes", 2, json={"body": "two"}))
    with pytest.raises(psycopg2.Error, match="append-only"):  # the application's role cannot
        app_sql("cases", "UPDATE audit_entries SET action = 'x' WHERE case_id = %s", (case["id"],))
    conn = superuser_connect(suite.env["CASES_DB_URL"].rsplit("/", 1)[1])
    if conn is None:
        pytest.skip(f"needs the PostgreSQL superuser 'postgres' (trust auth on {infra.PG_HOSTPORT})")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # superusers only: triggers off
            cur.execute(
                "UPDATE audit_entries SET changes = jsonb_set(changes, '{note,body}', '\"forged\"') "
                "WHERE case_id = %s AND seq = 2",
                (case["id"],),
            )
    finally:
        conn.close()
    verified = ok(admin.get(f"{base}/audit/verify"))
    assert (verified["ok"], verified["first_bad_seq"]) == (False, 2)


def test_the_cli_loads_a_type_and_dry_runs_a_migration(admin: Client, suite: Suite, tmp_path: Any) -> None:
    key = f"cli{uuid.uuid4().hex[:6]}"
    path = tmp_path / "type.yaml"
    path.write_text(f"key: {key}\nname: CLI type\nprefix: CLI\nstages: [{{key: a}}, {{key: b}}]\n")
    env = {**os.environ, **suite.env}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [suite.python, "-m", "gateway.cli", *args],
            cwd=infra.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"case type {key} v1 loaded" in cli("load-case-type", str(path))
    case = open_case(admin, type=key)
    path.write_text(f"key: {key}\nname: CLI type\nprefix: CLI\nstages: [{{key: a}}, {{key: c}}]\n")
    assert f"case type {key} v2 loaded" in cli("load-case-type", str(path))
    out = cli("migrate-cases", key, "--map", "b=c")
    assert case["reference"] in out and "would move 1 case(s) to v2; 0 blocked" in out
    assert admin.get(f"/api/v1/cases/{case['id']}").json()["type_version"] == 1
