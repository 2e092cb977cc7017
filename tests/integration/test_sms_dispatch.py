"""Outbound SMS through the dispatcher, against a Twilio-style provider on loopback.

The provider is a real HTTP server (form-encoded ``To``/``From``/``Body``, basic auth, JSON
``sid``) that can fail on purpose and, like Twilio-compatible gateways that honour it,
deduplicates our ``Idempotency-Key``. The dispatcher runs on a real, migrated notifications
database; only the call that puts a sent message on its case (the cases service) is recorded
in memory, since that service is not under test here.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from casekit.db import utcnow
from services.notifications.adapters.dispatcher import Dispatcher, send_sms
from services.notifications.logic import outbound
from services.notifications.models import DeliveryAttempt, OutboundMessage

pytestmark = pytest.mark.integration
SID, TOKEN = "AC0123456789", "provider-secret"


@dataclass
class Provider:
    """What the provider was sent, and how it should answer the next requests."""

    fail_next: list[int] = field(default_factory=list)  # status codes to answer first, in order
    requests: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, dict[str, str]] = field(default_factory=dict)  # idempotency key -> message
    url: str = ""


def serve(provider: Provider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            key = self.headers.get("Idempotency-Key", "")
            auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            provider.requests.append({"form": form, "key": key})
            if self.headers.get("Authorization") != f"Basic {auth}":
                return self.answer(401, {"message": "authenticate"})
            if provider.fail_next:
                return self.answer(provider.fail_next.pop(0), {"message": "refused on purpose"})
            provider.delivered.setdefault(key, {**form, "sid": f"SM{uuid.uuid4().hex}"})
            return self.answer(201, provider.delivered[key])

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_port}/2010-04-01/Accounts/{SID}/Messages.json"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class RecordedCases:
    """Stands in for ``cases.record_message`` (the timeline entry of a sent message)."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, dict]] = []

    def call(self, service: str, method: str, case_id: str, message: dict) -> None:
        assert (service, method) == ("cases", "record_message")
        self.recorded.append((case_id, message))


@pytest.fixture
def provider() -> Iterator[Provider]:
    found = Provider()
    server = serve(found)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dispatcher(make_databases: Callable[..., dict[str, str]], provider: Provider) -> Iterator[Callable]:
    made: list[Dispatcher] = []

    def make(*, idempotent: bool = True, token: str = TOKEN) -> Dispatcher:
        url = made[0].config["db"] if made else make_databases("notifications")["notifications"]
        config = {
            "db": url,
            "sms_url": provider.url,
            "sms_sid": SID,
            "sms_token": token,
            "sms_from": "+441234000000",
            "idempotent": {"email": False, "sms": idempotent},
            "lease": 60.0,
            "backoff": 0.0,  # retry at once: the test steps the dispatcher itself
            "poll": 0.05,
            "domain": "casework.test",
        }
        one = Dispatcher(config, RecordedCases())
        made.append(one)
        return one

    yield make
    for one in made:
        one.engine.dispose()


def queue_sms(dispatcher: Dispatcher, text: str = "Your claim CLM-1 is approved") -> str:
    with dispatcher.sessions() as s:
        row, created = outbound.queue(
            s,
            key=str(uuid.uuid4()),
            case_id=str(uuid.uuid4()),
            channel="sms",
            to="+447700900123",
            subject="",
            text=text,
            html=None,
            domain="casework.test",
        )
        s.commit()
        assert created
        return row.id


def state(dispatcher: Dispatcher, message_id: str) -> tuple[OutboundMessage, list[str]]:
    with dispatcher.sessions() as s:
        row = s.get(OutboundMessage, message_id)
        log = s.scalars(
            select(DeliveryAttempt.outcome)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        ).all()
        return row, list(log)


def run_until_idle(dispatcher: Dispatcher, steps: int = 20) -> None:
    for _ in range(steps):
        if not dispatcher.step():
            return
    raise AssertionError(f"the dispatcher was still busy after {steps} steps")


def test_a_provider_that_fails_twice_then_succeeds_delivers_exactly_one_sms(
    dispatcher: Callable, provider: Provider
) -> None:
    one = dispatcher()
    provider.fail_next = [503, 500]
    message_id = queue_sms(one)
    run_until_idle(one)
    row, log = state(one, message_id)
    assert row.state == "sent" and row.attempts == 3
    assert log == ["retry", "retry", "sent"]
    assert len(provider.requests) == 3 and len(provider.delivered) == 1
    delivered = next(iter(provider.delivered.values()))
    assert delivered["To"] == "+447700900123" and delivered["Body"] == "Your claim CLM-1 is approved"
    assert row.provider_id == delivered["sid"]
    # every attempt carried the same idempotency key: the message's own id
    assert {r["key"] for r in provider.requests} == {message_id}
    # and the sent message went onto its case's timeline once
    assert [m["id"] for _, m in one.bus.recorded] == [message_id]


def test_a_refusal_for_good_is_not_retried(dispatcher: Callable, provider: Provider) -> None:
    one = dispatcher(token="a-wrong-token")
    message_id = queue_sms(one)
    run_until_idle(one)
    row, log = state(one, message_id)
    assert row.state == "failed" and row.attempts == 1 and "401" in row.last_error
    assert log == ["failed"] and provider.delivered == {}
    assert one.bus.recorded == []


def crash_after_handover(one: Dispatcher, message_id: str) -> None:
    """Claim, hand the SMS to the provider, and die before recording ``sent``; by the time another
    dispatcher looks, the lease has run out (moved into the past: no waiting in the test)."""
    with one.sessions() as s:
        row = outbound.claim(s, now=utcnow(), lease=30)
        assert row is not None and row.id == message_id
        outbound.transmitting(row)
        row.lease_until = utcnow() - timedelta(seconds=1)
        s.commit()
        send_sms(row, one.config)  # the provider has it; the process "dies" here


def test_a_restart_mid_send_delivers_once_with_a_provider_that_deduplicates(
    dispatcher: Callable, provider: Provider
) -> None:
    first = dispatcher(idempotent=True)
    message_id = queue_sms(first)
    crash_after_handover(first, message_id)
    assert len(provider.delivered) == 1
    restarted = dispatcher(idempotent=True)  # a new dispatcher process finds the expired lease
    run_until_idle(restarted)
    row, log = state(restarted, message_id)
    assert row.state == "sent" and log == ["abandoned", "sent"]
    assert len(provider.requests) == 2 and len(provider.delivered) == 1  # resent, deduplicated
    assert row.provider_id == provider.delivered[message_id]["sid"]


def test_a_restart_mid_send_never_resends_to_a_provider_that_does_not_deduplicate(
    dispatcher: Callable, provider: Provider
) -> None:
    first = dispatcher(idempotent=False)
    message_id = queue_sms(first)
    crash_after_handover(first, message_id)
    restarted = dispatcher(idempotent=False)
    run_until_idle(restarted)
    row, log = state(restarted, message_id)
    assert row.state == "uncertain" and log == ["abandoned"]
    assert len(provider.requests) == 1  # at most once: never handed over a second time
