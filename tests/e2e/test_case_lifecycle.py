"""One case all the way through, over HTTP, through real gunicorn and real ``nameko run`` processes."""

from __future__ import annotations

import re
import uuid

import pytest

from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def open_case(client: Client, title: str, **extra: object) -> dict:
    body = {
        "type": "complaint",
        "title": title,
        "priority": "high",
        "customer": {"name": "Ann Example", "email": f"ann.{uuid.uuid4().hex[:6]}@example.org"},
        **extra,
    }
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def search(client: Client, q: str) -> list[dict]:
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_case_travels_through_every_service(admin: Client) -> None:
    word = f"boiler{uuid.uuid4().hex[:8]}"
    response = admin.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "title": f"Broken {word} in flat 3",
            "priority": "high",
            "customer": {"name": "Ann Example", "email": "ann@example.org"},
            "data": {"product": "heating", "amount": 80},
        },
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert re.fullmatch(r"CMP-\d{4}-\d{6}", case["reference"])
    assert response.headers["Location"] == f"/api/v1/cases/{case['id']}"
    assert response.headers["ETag"] == '"1"'
    assert case["stage"] == "received" and case["status"] == "open" and case["version"] == 1
    assert case["parties"][0]["role"] == "customer"

    # routing queues it, search indexes it, notifications tells the queue's supervisor
    folder = eventually(lambda: (f := admin.get(f"/api/v1/cases/{case['id']}").json())["work_item"] and f)
    assert folder["work_item"]["queue"] == "default" and folder["missing"] == []
    hits = eventually(lambda: search(admin, word))
    assert [h["case_id"] for h in hits] == [case["id"]] and hits[0]["matched_in"] == ["case"]
    assert [h["case_id"] for h in search(admin, case["reference"])] == [case["id"]]
    inbox = eventually(
        lambda: [n for n in admin.get("/api/v1/notifications").json()["items"] if n["case_id"] == case["id"]]
    )
    assert inbox[0]["kind"] == "case_queued" and case["reference"] in inbox[0]["title"]

    # a document streamed into the folder; its text makes the case findable
    secret = f"radiator{uuid.uuid4().hex[:8]}"
    body = f"Dear team, the {secret} has leaked for a week.\n".encode()
    uploaded = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        params={"filename": "../../letter.txt", "kind": "scanned_post"},
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    assert document["filename"] == "letter.txt" and document["media_type"] == "text/plain"
    assert document["size"] == len(body) and document["kind"] == "scanned_post"
    hits = eventually(lambda: search(admin, secret))
    assert hits[0]["case_id"] == case["id"] and hits[0]["matched_in"] == ["document"]

    # download, whole and by range
    content = admin.get(f"/api/v1/documents/{document['id']}/content")
    assert content.status_code == 200 and content.content == body
    assert content.headers["Content-Type"].startswith("text/plain")
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in content.headers["Content-Disposition"]
    ranged = admin.get(f"/api/v1/documents/{document['id']}/content", headers={"Range": "bytes=5-8"})
    assert ranged.status_code == 206 and ranged.content == body[5:9]
    assert ranged.headers["Content-Range"] == f"bytes 5-8/{len(body)}"

    # the folder gathers all of it, and the audit chain holds
    folder = admin.get(f"/api/v1/cases/{case['id']}").json()
    assert [d["id"] for d in folder["documents"]] == [document["id"]]
    verified = admin.get(f"/api/v1/cases/{case['id']}/audit/verify").json()
    trail = admin.get(f"/api/v1/cases/{case['id']}/audit").json()
    assert verified["ok"] is True and verified["entries"] == len(trail)
    assert trail[0]["action"] == "case_opened"
    assert {e["action"] for e in trail[1:]} == {"case_read"}, "who opened the folder is recorded"


def test_multipart_upload_types_the_file_by_its_bytes(admin: Client) -> None:
    case = open_case(admin, "Photo of the damage")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = admin.post(
        f"/api/v1/cases/{case['id']}/documents", files={"file": ("damage.pdf", png, "application/pdf")}
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["media_type"] == "image/png"
    assert document["declared_type"] == "application/pdf"
    assert document["filename"] == "damage.pdf"


def test_the_same_bytes_twice_share_one_blob(admin: Client) -> None:
    case = open_case(admin, "Duplicate scans")
    first, second = (
        admin.post(
            f"/api/v1/cases/{case['id']}/documents",
            data=b"same scan bytes",
            headers={"Content-Type": "application/octet-stream"},
        ).json()
        for _ in range(2)
    )
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]


def test_idempotency_key_returns_the_case_it_opened(admin: Client) -> None:
    key = str(uuid.uuid4())
    body = {"type": "complaint", "title": "Retried request"}
    first = admin.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})
    second = admin.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["created"] is False


def test_cases_list_pages_with_a_cursor(admin: Client) -> None:
    opened = {open_case(admin, f"Paged case {i}")["id"] for i in range(3)}
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/api/v1/cases", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert opened <= set(seen) and len(seen) == len(set(seen))


def test_the_api_describes_itself(anonymous: Client) -> None:
    spec = anonymous.get("/api/v1/docs/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/documents",
        "/api/v1/search",
        "/api/v1/auth/token",
        "/api/v1/notifications",
    ):
        assert path in spec["paths"], path
    assert anonymous.get("/api/v1/docs/swagger").status_code == 200


def test_readiness_reports_every_service(anonymous: Client) -> None:
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {
        "database",
        "cases",
        "documents",
        "routing",
        "notifications",
        "search",
    }
