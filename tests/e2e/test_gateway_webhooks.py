"""Outbound webhooks against a local receiver: signed payloads, retries with backoff, the delivery
log and redelivery; and the case folder view gathered from every service."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from casekit.testing.suite import Client
from gateway.webhooks.models import verify
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


class Receiver:
    """Answers 500 to the first ``failures`` requests of each event, then 200; keeps every request."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    event_id = self.headers.get("Casework-Event-Id", "")
                    seen = sum(1 for r in receiver.requests if r["event_id"] == event_id)
                    status = 500 if seen < receiver.failures else 200
                    receiver.requests.append(
                        {
                            "event_id": event_id,
                            "type": self.headers.get("Casework-Event-Type"),
                            "signature": self.headers.get("Casework-Signature", ""),
                            "body": body,
                            "status": status,
                            "at": time.time(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def for_case(self, case_id: str, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r["type"] == event_type and json.loads(r["body"])["event"].get("case_id") == case_id
            ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_events_arrive_signed_after_retries_and_can_be_redelivered(admin: Client, receiver: Receiver) -> None:
    created = admin.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": ["case_opened"], "description": "e2e"}
    )
    assert created.status_code == 201, created.text
    hook, secret = created.json(), created.json()["secret"]
    try:
        case = admin.post(
            "/api/v1/cases", json={"type": "complaint", "title": f"Hook {uuid.uuid4().hex[:6]}"}
        )
        case_id = case.json()["id"]

        attempts = eventually(
            lambda: (got := receiver.for_case(case_id, "case_opened")) and len(got) >= 3 and got
        )
        assert [a["status"] for a in attempts[:3]] == [500, 500, 200]
        for attempt in attempts:
            assert verify(secret, attempt["signature"], attempt["body"], now=int(time.time()))
            assert not verify("whsec_wrong", attempt["signature"], attempt["body"], now=int(time.time()))
        payload = json.loads(attempts[0]["body"])
        assert payload["type"] == "case_opened" and payload["event"]["data"]["case"]["id"] == case_id
        # only subscribed types: the case_opened of this case, no other event of it
        assert {r["type"] for r in receiver.requests if case_id in r["body"].decode()} == {"case_opened"}

        def delivered() -> list[dict]:
            log = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"]
            return [d for d in log if d["event_id"] == attempts[0]["event_id"] and d["state"] == "delivered"]

        mine = eventually(delivered)
        assert mine[0]["attempts"] == 3
        assert mine[0]["last_status"] == 200

        again = admin.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{mine[0]['id']}/redeliver")
        assert again.status_code == 202
        eventually(lambda: len(receiver.for_case(case_id, "case_opened")) >= 4)
        fourth = receiver.for_case(case_id, "case_opened")[3]
        assert fourth["event_id"] == attempts[0]["event_id"] and fourth["status"] == 200
        assert verify(secret, fourth["signature"], fourth["body"], now=int(time.time()))
    finally:
        admin.request("DELETE", f"/api/v1/webhooks/{hook['id']}")


def test_a_paused_or_unknown_subscription_is_refused_cleanly(admin: Client) -> None:
    bad = admin.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["no_such_event"]}
    )
    assert bad.status_code == 422
    assert admin.get(f"/api/v1/webhooks/{uuid.uuid4()}").status_code == 404


def test_the_case_folder_gathers_every_part(admin: Client) -> None:
    case = admin.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "title": "Folder view",
            "customer": {"name": "Fay", "email": "fay@example.org"},
        },
    ).json()
    admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        params={"filename": "f.txt"},
        data=b"folder letter",
        headers={"Content-Type": "application/octet-stream"},
    )
    folder = eventually(
        lambda: (
            (f := admin.get(f"/api/v1/cases/{case['id']}/folder")).status_code == 200
            and f.json()["assignment"]
            and f.json()
        )
    )
    assert folder["case"]["id"] == case["id"] and folder["parties"][0]["role"] == "customer"
    assert [d["filename"] for d in folder["documents"]] == ["f.txt"]
    assert folder["timeline"] and folder["missing"] == []
    assert admin.get(f"/api/v1/cases/{uuid.uuid4()}/folder").status_code == 404
