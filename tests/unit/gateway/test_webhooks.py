"""Webhook subscriptions over the API, and the dispatcher's sending against a local receiver:
signatures, retries with backoff, giving up, redelivery, and deduplication of redelivered events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.webhooks.dispatcher import DispatchSettings, Sender, backoff_seconds, record_event
from gateway.webhooks.models import Delivery, sign, verify
from tests.unit.gateway.helpers import Gateway


class Receiver:
    def __init__(self) -> None:
        self.statuses: list[int] = []  # answers to give, in order; 200 after they run out
        self.got: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def gateway() -> Gateway:
    gw = Gateway()
    gw.add_user("admin-1", ["admin"])
    gw.add_user("u-1", ["supervisor"])
    return gw


def subscribe(gw: Gateway, url: str, types: list[str]) -> dict[str, Any]:
    created = gw.client.post(
        "/api/v1/webhooks", json={"url": url, "event_types": types}, headers=gw.auth("admin-1")
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.get_json()


def envelope(event_id: str = "ev-1", type_: str = "case_opened") -> dict[str, Any]:
    return {"id": event_id, "type": type_, "case_id": "c-1", "data": {"case": {"id": "c-1"}}}


def sender(gw: Gateway, **kw: Any) -> Sender:
    return Sender(gw.sessions, DispatchSettings(backoff=0.0, poll=0.01, **kw))


def test_subscriptions_are_admin_only_and_shown_without_secret(gateway: Gateway) -> None:
    hook = subscribe(gateway, "http://127.0.0.1:9/x", ["case_opened"])
    assert hook["secret"].startswith("whsec_")
    listed = gateway.client.get("/api/v1/webhooks", headers=gateway.auth("admin-1")).get_json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert gateway.client.get("/api/v1/webhooks", headers=gateway.auth("u-1")).status_code == 403
    bad = gateway.client.post(
        "/api/v1/webhooks",
        json={"url": "http://x/y", "event_types": ["nope"]},
        headers=gateway.auth("admin-1"),
    )
    assert bad.status_code == 422


def test_changing_a_subscription_needs_its_etag(gateway: Gateway) -> None:
    hook = subscribe(gateway, "http://127.0.0.1:9/x", ["case_opened"])
    path, auth = f"/api/v1/webhooks/{hook['id']}", gateway.auth("admin-1")
    tag = gateway.client.get(path, headers=auth).headers["ETag"]
    assert gateway.client.patch(path, json={"active": False}, headers=auth).status_code == 428
    changed = gateway.client.patch(path, json={"active": False}, headers={**auth, "If-Match": tag})
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    stale = gateway.client.patch(path, json={"active": True}, headers={**auth, "If-Match": tag})
    assert stale.status_code == 412
    # a delete honours If-Match (412 when stale, nothing removed) but does not require it
    assert gateway.client.delete(path, headers={**auth, "If-Match": tag}).status_code == 412
    current = changed.headers["ETag"]
    assert gateway.client.get(path, headers=auth).headers["ETag"] == current
    assert gateway.client.delete(path, headers={**auth, "If-Match": current}).status_code == 200
    assert gateway.client.get(path, headers=auth).status_code == 404
    other = subscribe(gateway, "http://127.0.0.1:9/y", ["case_opened"])
    assert gateway.client.delete(f"/api/v1/webhooks/{other['id']}", headers=auth).status_code == 200


def test_an_event_is_delivered_signed_once_per_subscription(gateway: Gateway, receiver: Receiver) -> None:
    hook = subscribe(gateway, receiver.url, ["case_opened"])
    subscribe(gateway, receiver.url, ["note_added"])
    assert record_event(gateway.sessions, envelope()) == 1
    assert record_event(gateway.sessions, envelope()) == 0  # a redelivered event: no second delivery

    assert sender(gateway).run_once() == 1
    (got,) = receiver.got
    assert got["headers"]["Casework-Event-Type"] == "case_opened"
    assert verify(hook["secret"], got["headers"]["Casework-Signature"], got["body"], now=int(time.time()))
    assert not verify(
        hook["secret"], got["headers"]["Casework-Signature"], got["body"] + b" ", int(time.time())
    )
    old = sign(hook["secret"], int(time.time()) - 3600, got["body"])
    assert not verify(hook["secret"], old, got["body"], now=int(time.time()))  # replayed later: refused


def test_failures_are_retried_then_given_up_and_can_be_redelivered(
    gateway: Gateway, receiver: Receiver
) -> None:
    hook = subscribe(gateway, receiver.url, ["*"])
    receiver.statuses = [500, 503, 500, 500]
    record_event(gateway.sessions, envelope())
    send = sender(gateway, max_attempts=3)
    for _ in range(5):
        send.run_once()
    with gateway.sessions() as s:
        (row,) = s.query(Delivery).all()
        assert (row.state, row.attempts, row.last_status) == ("failed", 3, 500)

    log = gateway.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=gateway.auth("admin-1"))
    (entry,) = log.get_json()["items"]
    again = gateway.client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{entry['id']}/redeliver", headers=gateway.auth("admin-1")
    )
    assert again.status_code == 202
    send.run_once()  # the receiver's 4th answer is 500: retrying
    send.run_once()
    with gateway.sessions() as s:
        assert s.get(Delivery, entry["id"]).state == "delivered"
    assert len(receiver.got) == 5


def test_backoff_doubles_and_is_capped() -> None:
    settings = DispatchSettings(backoff=10)
    assert 8 <= backoff_seconds(settings, 1) <= 12
    assert 32 <= backoff_seconds(settings, 3) <= 48
    assert backoff_seconds(settings, 30) <= 3600 * 1.2


def test_private_destinations_can_be_refused(gateway: Gateway, receiver: Receiver) -> None:
    subscribe(gateway, receiver.url, ["case_opened"])
    record_event(gateway.sessions, envelope())
    sender(gateway, allow_private=False, max_attempts=1).run_once()
    assert receiver.got == []
    with gateway.sessions() as s:
        (row,) = s.query(Delivery).all()
        assert row.state == "failed" and "not allowed" in row.last_error
