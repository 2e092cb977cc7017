"""Crash consistency of uploads (the documents service killed mid-upload and between blob and row),
the sweep, and retention with legal hold through the gateway."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy

from casekit.contracts.events import make_envelope
from casekit.launcher import Suite
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e
ADMIN_CONTEXT = {"user_id": "e2e-admin", "roles": "admin", "correlation_id": "e2e-sweep"}


def rpc(suite: Suite, method: str, *args: object) -> object:
    with ClusterRpcProxy(
        {"AMQP_URI": suite.env["AMQP_URI"]}, context_data=ADMIN_CONTEXT, timeout=30
    ) as proxy:
        return getattr(proxy.documents, method)(*args)


def blob_path(suite: Suite, sha: str) -> Path:
    return Path(suite.env["DOCUMENTS_DATA_DIR"]) / "blobs" / sha[:2] / sha[2:4] / sha


def rows_without_blobs(suite: Suite, sql) -> list[str]:  # noqa: ANN001
    return [
        sha
        for (sha,) in sql("documents", "SELECT sha256 FROM documents")
        if not blob_path(suite, sha).exists()
    ]


def restart_documents(suite: Suite, extra_env: dict[str, str] | None = None) -> None:
    suite.kill("documents")
    suite.start(["documents"], extra_env=extra_env)
    eventually(lambda: suite.wait_ready(timeout=60), timeout=90)


def open_case(client: Client, title: str) -> dict:
    response = client.post("/api/v1/cases", json={"type": "complaint", "title": title})
    assert response.status_code == 201, response.text
    return response.json()


def test_killing_documents_mid_upload_leaves_no_row_without_its_blob(
    suite: Suite, admin: Client, sql
) -> None:  # noqa: ANN001
    case = open_case(admin, "Killed mid-upload")
    sent = threading.Event()
    result: dict[str, object] = {}

    def slow_body() -> Iterator[bytes]:
        for i in range(30):
            yield bytes([65 + i % 26]) * 65536
            if i == 10:
                sent.set()
                time.sleep(1.0)

    def post() -> None:
        try:
            result["response"] = admin.post(
                f"/api/v1/cases/{case['id']}/documents",
                data=slow_body(),
                headers={"Content-Type": "application/octet-stream"},
            )
        except Exception as exc:  # noqa: BLE001 - the gateway may cut the connection
            result["error"] = exc

    thread = threading.Thread(target=post)
    thread.start()
    assert sent.wait(30)
    suite.kill("documents")
    thread.join(60)
    response = result.get("response")
    assert response is None or response.status_code in (201, 503), response.text
    suite.start(["documents"])
    eventually(lambda: suite.wait_ready(timeout=60), timeout=90)
    assert rows_without_blobs(suite, sql) == []
    swept = rpc(suite, "sweep", 0, 0)
    assert isinstance(swept, dict)
    assert sql("documents", "SELECT count(*) FROM uploads WHERE state = 'open'")[0][0] == 0
    assert list((Path(suite.env["DOCUMENTS_DATA_DIR"]) / "staging").iterdir()) == []
    assert rows_without_blobs(suite, sql) == []


def test_killed_between_blob_and_row_then_swept(suite: Suite, admin: Client, sql) -> None:  # noqa: ANN001
    case = open_case(admin, "Killed after the blob")
    data = f"orphan candidate {uuid.uuid4()}".encode()
    restart_documents(suite, {"CASEWORK_CRASHPOINT": "documents.after_blob_commit"})
    response = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 503, response.text
    restart_documents(suite)  # the unacknowledged finish may be redelivered and complete now
    assert rows_without_blobs(suite, sql) == []
    rpc(suite, "sweep", 0, 0)
    assert rows_without_blobs(suite, sql) == []
    referenced = {sha for (sha,) in sql("documents", "SELECT sha256 FROM documents")}
    on_disk = {p.name for p in (Path(suite.env["DOCUMENTS_DATA_DIR"]) / "blobs").glob("*/*/*")}
    assert on_disk == referenced  # nothing left that nothing points at


def close_case(suite: Suite, case: dict, days_ago: int, retention_days: int) -> None:
    closed_at = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    snapshot = {
        **case,
        "version": 99,
        "status": "closed",
        "closed_at": closed_at,
        "retention_days": retention_days,
    }
    envelope = make_envelope(
        producer="cases", type="case_closed", data={"case": snapshot}, case_id=case["id"], case_version=99
    )
    event_dispatcher({"AMQP_URI": suite.env["AMQP_URI"]})("cases", "case_closed", envelope)


def test_retention_and_legal_hold_through_the_gateway(
    suite: Suite, admin: Client, agent: Client, sql
) -> None:  # noqa: ANN001
    case = open_case(admin, "Retention")
    doc = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        data=b"retained bytes",
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    path = f"/api/v1/documents/{doc['id']}"
    assert admin.request("DELETE", path, params={"reason": "too early"}).status_code == 409
    close_case(suite, case, days_ago=40, retention_days=30)
    eventually(
        lambda: (
            sql("documents", "SELECT status FROM case_states WHERE case_id = %s", (case["id"],))
            == [("closed",)]
        )
    )
    hold = admin.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"on": True, "reason": "litigation"})
    assert hold.status_code == 200 and hold.json()["legal_hold"] is True
    assert (
        agent.post(
            f"/api/v1/cases/{case['id']}/legal-hold", json={"on": False, "reason": "x" * 5}
        ).status_code
        == 403
    )
    blocked = admin.request("DELETE", path, params={"reason": "retention over"})
    assert blocked.status_code == 409 and "legal hold" in blocked.json()["detail"]
    assert admin.request("DELETE", path).status_code == 422  # a reason is required
    admin.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"on": False, "reason": "settled"})
    assert agent.request("DELETE", path, params={"reason": "retention over"}).status_code == 403
    deleted = admin.request("DELETE", path, params={"reason": "retention over"})
    assert deleted.status_code == 200, deleted.text
    [stone] = deleted.json()["removed"]
    assert (stone["sha256"], stone["reason"]) == (doc["sha256"], "retention over")
    assert admin.get(path).status_code == 404
    assert sql("documents", "SELECT reason FROM tombstones WHERE document_id = %s", (doc["id"],)) == [
        ("retention over",)
    ]
    holds = admin.get(f"/api/v1/cases/{case['id']}/legal-holds").json()
    assert [(h["reason"], h["release_reason"]) for h in holds] == [("litigation", "settled")]


def test_a_flipped_byte_on_disk_never_downloads_as_a_complete_file(suite: Suite, admin: Client) -> None:
    case = open_case(admin, "Bit rot")
    data = f"evidence {uuid.uuid4()} ".encode() * 2000
    doc = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    assert admin.get(f"/api/v1/documents/{doc['id']}/content").content == data
    blob = blob_path(suite, doc["sha256"])
    flipped = bytearray(blob.read_bytes())
    flipped[100] ^= 0x01
    blob.write_bytes(bytes(flipped))
    try:
        response = admin.get(f"/api/v1/documents/{doc['id']}/content")
        complete = response.status_code == 200 and len(response.content) == len(data)
    except requests.RequestException:  # the transfer was cut short of its Content-Length
        complete = False
    assert not complete
    ranged = admin.get(f"/api/v1/documents/{doc['id']}/content", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206  # ranges are served as stored; whole files are verified
    blob.write_bytes(data)
