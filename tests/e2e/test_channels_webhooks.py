"""SMS and fax by signed provider webhook, and staff notifications: follow, mention, inbox, the
live stream, preferences and templates, through the real processes."""

from __future__ import annotations

import base64
import io
import json
import smtplib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from twilio.request_validator import RequestValidator

from casekit.launcher import Suite
from casekit.testing.suite import Client, free_port
from tests.e2e.conftest import E2E_ENV, eventually

pytestmark = pytest.mark.e2e
TOKEN = E2E_ENV["TWILIO_AUTH_TOKEN"]


def webhook(suite: Suite, kind: str, params: dict[str, str], token: str | None = TOKEN) -> Any:
    import requests

    url = f"{suite.gateway_url}/api/v1/channels/twilio/{kind}"
    headers = {}
    if token is not None:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers=headers, timeout=30)


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def phone() -> str:
    return "+4477009" + str(uuid.uuid4().int)[:5]


def case_by_reference(admin: Client, reference: str) -> dict[str, Any]:
    found = eventually(
        lambda: admin.get(f"/api/v1/search?q={reference}").json().get("items") or None, timeout=30
    )
    return admin.get(f"/api/v1/cases/{found[0]['case_id']}").json()


def test_a_signed_sms_opens_a_case_and_a_replay_changes_nothing(suite: Suite, admin: Client) -> None:
    sender = phone()
    params = {"MessageSid": sid("SM"), "From": sender, "To": "+441234567890", "Body": "My boiler is broken"}
    first = webhook(suite, "sms", params)
    assert first.status_code == 200, first.text
    reference = first.headers["X-Casework-Case"]
    replay = webhook(suite, "sms", params)
    assert replay.status_code == 200 and replay.headers["X-Casework-Case"] == reference
    case = case_by_reference(admin, reference)
    assert (case["channel"], case["parties"][0]["phones"]) == ("sms", [sender])
    intakes = [
        i
        for i in admin.get(f"/api/v1/cases/{case['id']}/timeline").json()["items"]
        if i["action"] == "intake_received"
    ]
    assert len(intakes) == 1 and intakes[0]["detail"]["item"]["body"] == "My boiler is broken"
    assert [d["kind"] for d in admin.get(f"/api/v1/cases/{case['id']}/documents").json()] == ["sms"]
    follow_up = {**params, "MessageSid": sid("SM"), "Body": "Still broken"}
    assert webhook(suite, "sms", follow_up).headers["X-Casework-Case"] == reference  # known sender
    # the acknowledgement goes back by SMS; no provider is configured here, and the log says so
    acks = eventually(
        lambda: (
            [m for m in admin.get(f"/api/v1/cases/{case['id']}/messages").json() if m["state"] == "failed"]
            or None
        )
    )
    assert acks[0]["channel"] == "sms" and "no SMS provider" in acks[0]["last_error"]


@pytest.mark.parametrize("signature", [None, "forged", "other-token"])
def test_unsigned_or_forged_webhooks_are_refused_and_take_nothing_in(
    suite: Suite, admin: Client, signature: str | None
) -> None:
    params = {"MessageSid": sid("SM"), "From": phone(), "Body": "let me in"}
    if signature == "other-token":
        response = webhook(suite, "sms", params, token="not-the-secret")
    elif signature == "forged":
        import requests

        response = requests.post(
            f"{suite.gateway_url}/api/v1/channels/twilio/sms",
            data=params,
            headers={"X-Twilio-Signature": base64.b64encode(b"x" * 20).decode()},
            timeout=30,
        )
    else:
        response = webhook(suite, "sms", params, token=None)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert admin.get(f"/api/v1/search?q={params['From'].lstrip('+')}").json().get("items") in ([], None)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("media")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import requests

        eventually(lambda: _up(requests, port), timeout=20)
        yield folder, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _up(requests: Any, port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok
    except requests.RequestException:
        return False


def test_a_tiff_fax_by_webhook_is_stored_as_a_pdf_of_kind_fax(
    suite: Suite, admin: Client, media: tuple[Path, str]
) -> None:
    folder, base = media
    pages = [Image.new("1", (400, 300), color=1) for _ in range(2)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", compression="group4", save_all=True, append_images=pages[1:])
    (folder / "fax1.tiff").write_bytes(buffer.getvalue())
    params = {
        "FaxSid": sid("FX"),
        "From": phone(),
        "To": "+441234",
        "NumPages": "2",
        "MediaUrl": f"{base}/fax1.tiff",
        "Status": "received",
    }
    response = webhook(suite, "fax", params)
    assert response.status_code == 200, response.text
    case = case_by_reference(admin, response.headers["X-Casework-Case"])
    docs = admin.get(f"/api/v1/cases/{case['id']}/documents").json()
    pdfs = [d for d in docs if d["kind"] == "fax" and d["filename"].endswith(".pdf")]
    assert len(pdfs) == 1 and pdfs[0]["media_type"] == "application/pdf"
    bad = webhook(suite, "fax", {**params, "FaxSid": sid("FX"), "MediaUrl": "http://169.254.169.254/x"})
    assert bad.status_code == 422  # media only from the provider's host


def user_id(client: Client) -> str:
    token = client.http.headers["Authorization"].split()[1]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def test_staff_are_notified_of_messages_on_followed_cases_and_of_mentions_live(
    suite: Suite, admin: Client, agent: Client
) -> None:
    created = admin.post(
        "/api/v1/cases", json={"type": "complaint", "title": "Follow me", "customer": {"name": "Flo"}}
    ).json()
    assert agent.request("PUT", f"/api/v1/cases/{created['id']}/follow").status_code == 200
    stream = agent.get("/api/v1/notifications/stream", stream=True, timeout=60)
    assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    lines = stream.iter_lines(decode_unicode=True)

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = (
        "flo@example.org",
        "help@casework.test",
        f"[{created['reference']}] hi",
    )
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content("A new message")
    host, _, port = suite.env["SMTP_IN_BIND"].rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=60) as smtp:
        smtp.send_message(msg)

    seen = []
    for line in lines:
        if line.startswith("data: ") and '"kind"' in line:
            seen.append(json.loads(line[6:]))
            if any(n["kind"] == "new_message" and n["case_id"] == created["id"] for n in seen):
                break
    stream.close()

    version = admin.get(f"/api/v1/cases/{created['id']}").json()["version"]
    note = admin.post(
        f"/api/v1/cases/{created['id']}/notes",
        json={"body": f"@{user_id(agent)} please call Flo back"},
        headers={"If-Match": f'"{version}"'},
    )
    assert note.status_code in (200, 201), note.text
    inbox = eventually(
        lambda: (
            (i := agent.get("/api/v1/notifications").json())["unread"] >= 2
            and any(n["kind"] == "mention" for n in i["items"])
            and i
        )
    )
    assert {"new_message", "mention"} <= {n["kind"] for n in inbox["items"]}
    read = agent.post("/api/v1/notifications/read", json={"all": True}).json()
    assert read["unread"] == 0


def test_preferences_and_templates(admin: Client, agent: Client) -> None:
    assert agent.get("/api/v1/me/preferences").json()["channels"]["mention"] == ["in_app"]
    refused = agent.request("PUT", "/api/v1/me/preferences", json={"channels": {"mention": ["email"]}})
    assert refused.status_code == 422  # email needs an address
    saved = agent.request(
        "PUT",
        "/api/v1/me/preferences",
        json={"channels": {"mention": ["in_app", "email"]}, "email": "a1@example.org"},
    )
    assert saved.status_code == 200 and saved.json()["channels"]["mention"] == ["in_app", "email"]

    assert admin.get("/api/v1/templates/acknowledgement/fr").json()["locale"] == "en"  # falls back
    body = {"subject": "[{{ case.reference }}] Bien reçu", "text": "Bonjour {{ customer.name }}"}
    put = admin.request("PUT", "/api/v1/templates/acknowledgement/fr", json=body)
    assert put.status_code == 200 and put.json()["source"] == "admin"
    assert admin.get("/api/v1/templates/acknowledgement/fr").json()["subject"] == body["subject"]
    assert agent.request("PUT", "/api/v1/templates/acknowledgement/fr", json=body).status_code == 403
    hostile = admin.request(
        "PUT", "/api/v1/templates/acknowledgement/de", json={"text": "{{ case.__class__.__mro__ }}"}
    )
    assert hostile.status_code == 422
