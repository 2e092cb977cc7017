"""Email in and out through the real processes: SMTP to the listener, cases, documents, timeline,
threading by each rule, the hostile corpus, outbound retries and a dispatcher crash mid-send."""

from __future__ import annotations

import email
import re
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from casekit.launcher import Suite
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually
from tests.unit.channels import corpus

pytestmark = pytest.mark.e2e
TAKEN = re.compile(r"taken in on (\S+) case ([0-9a-f-]{36})")


def smtp_send(suite: Suite, raw: bytes, mail_from: str = "sender@example.org") -> tuple[int, str]:
    host, _, port = suite.env["SMTP_IN_BIND"].rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=300) as smtp:  # RFC 5321: wait up to 10 min after DATA
        smtp.ehlo()
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # what an MTA sends: CRLF lines
        code, _ = smtp.mail(mail_from)
        assert code == 250
        code, _ = smtp.rcpt("help@casework.test")
        assert code == 250
        code, reply = smtp.data(raw)
    return code, reply.decode()


def taken(suite: Suite, raw: bytes, mail_from: str = "sender@example.org") -> tuple[str, str]:
    code, reply = smtp_send(suite, raw, mail_from)
    assert code == 250, reply
    match = TAKEN.search(reply)
    assert match, reply
    return match.group(1), match.group(2)


def message(sender: str, subject: str, body: str = "Hello", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Customer <{sender}>"
    msg["To"] = "help@casework.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def sink(suite: Suite) -> list[email.message.EmailMessage]:
    folder = Path(suite.env["MAIL_SINK_DIR"])
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def sent_to(suite: Suite, address: str) -> list[Any]:
    return [m for m in sink(suite) if address in str(m["To"])]


def timeline(admin: Client, case_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"/api/v1/cases/{case_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_email_opens_a_case_with_its_documents_and_is_acknowledged(suite: Suite, admin: Client) -> None:
    sender = f"ann-{uuid.uuid4().hex[:8]}@example.org"
    msg = message(sender, "My gas bill is wrong", "I was overcharged.\n\n-- \nAnn\n07700 900123")
    msg.add_attachment(b"%PDF-1.4\n% a bill\n", maintype="application", subtype="pdf", filename="bill.pdf")
    reference, case_id = taken(suite, msg.as_bytes(), sender)

    case = admin.get(f"/api/v1/cases/{case_id}").json()
    assert (case["reference"], case["type"], case["channel"]) == (
        reference,
        "complaint",
        "email",
    )
    docs = eventually(  # the documents service unpacks the attachments of the stored message
        lambda: (
            (d := {d["filename"]: d for d in admin.get(f"/api/v1/cases/{case_id}/documents").json()})
            and {"message.eml", "bill.pdf"} <= set(d)
            and d
        ),
        timeout=30,
    )
    assert docs["message.eml"]["kind"] == "email"
    assert docs["bill.pdf"]["parent_id"] == docs["message.eml"]["id"]
    intake = [i for i in timeline(admin, case_id) if i["action"] == "intake_received"]
    assert len(intake) == 1
    item = intake[0]["detail"]["item"]
    assert item["body"] == "I was overcharged."  # the signature is stripped for the timeline
    assert item["sender_verified"] is False

    acks = eventually(lambda: sent_to(suite, sender) or None, timeout=30)
    assert len(acks) == 1 and reference in str(acks[0]["Subject"])
    assert acks[0]["Auto-Submitted"] == "auto-generated"
    messages = eventually(
        lambda: (
            [m for m in admin.get(f"/api/v1/cases/{case_id}/messages").json() if m["state"] == "sent"] or None
        )
    )
    assert messages[0]["message_id"] == acks[0]["Message-ID"]
    eventually(lambda: [i for i in timeline(admin, case_id) if i["action"] == "message_recorded"] or None)


def test_replies_thread_by_reference_by_our_message_id_and_by_sender(suite: Suite, admin: Client) -> None:
    sender = f"bo-{uuid.uuid4().hex[:8]}@example.org"
    reference, case_id = taken(suite, message(sender, "Broken meter").as_bytes(), sender)
    ack = eventually(lambda: sent_to(suite, sender) or None, timeout=30)[0]

    other = f"someone-{uuid.uuid4().hex[:8]}@example.org"
    by_reference = message(other, f"Re: [{reference}] more details")
    assert taken(suite, by_reference.as_bytes(), other) == (reference, case_id)

    third = f"third-{uuid.uuid4().hex[:8]}@example.org"
    by_thread = message(third, "about your letter", In_Reply_To=str(ack["Message-ID"]))
    assert taken(suite, by_thread.as_bytes(), third) == (reference, case_id)

    by_sender = message(sender, "one more thing")
    again = by_sender.as_bytes()
    assert taken(suite, again, sender) == (reference, case_id)
    assert taken(suite, again, sender) == (reference, case_id)  # redelivered: taken once

    rules = [
        i["detail"]["item"]["matched_by"]
        for i in timeline(admin, case_id)
        if i["action"] == "intake_received"
    ]
    assert rules == [None, "reference", "thread", "sender"]
    assert len(sent_to(suite, sender)) == 1  # replies are not acknowledged again


def test_the_hostile_corpus_never_crashes_the_listener_nor_loses_a_valid_message(
    suite: Suite, admin: Client
) -> None:
    outcomes = {}
    for name, raw in corpus.cases():
        if name == "huge attachment":  # over the e2e upload limit; covered by the unit corpus
            continue
        tagged = raw.replace(b"@example.org>", f".{uuid.uuid4().hex[:6]}@example.org>".encode(), 1)
        code, reply = smtp_send(suite, tagged, "hostile@example.org")
        outcomes[name] = (code, reply)
        assert code in (250, 500, 554), (name, reply)
        if code != 250:
            assert "loop" in reply or "refused" in reply or "too long" in reply, (name, reply)
    refused = {name: reply for name, (code, reply) in outcomes.items() if code != 250}
    assert refused == {}, refused  # every one taken in, whatever was wrong with it
    for name in ("plain", "forged Authentication-Results", "many attachments", "deep nesting"):
        case_id = TAKEN.search(outcomes[name][1]).group(2)
        assert admin.get(f"/api/v1/cases/{case_id}").status_code == 200, name
    many = TAKEN.search(outcomes["many attachments"][1]).group(2)
    (item,) = [
        i["detail"]["item"]
        for i in timeline(admin, many)
        if i["action"] == "intake_received" and i["detail"]["item"]["subject"] == "80 attachments"
    ]
    assert any("more than 10 attachments" in p for p in item["problems"])  # EMAIL_MAX_ATTACHMENTS in e2e
    assert len(item["attachments"]) == 10

    def unpacked() -> list[str] | None:
        names = [d["filename"] for d in admin.get(f"/api/v1/cases/{many}/documents").json()]
        return names if {f"file{i}.bin" for i in range(10)} <= set(names) else None

    names = eventually(unpacked, timeout=60)
    assert len(names) == len(set(names))  # each attachment stored once, not by both services
    auto_sender = "mailer-daemon@example.org"
    assert sent_to(suite, auto_sender) == []  # automatic mail is never answered

    looped = corpus.plain(message_id=f"<{uuid.uuid4().hex}@casework.test>")
    code, reply = smtp_send(suite, looped)
    assert code == 554 and "loop" in reply
    code, reply = smtp_send(suite, corpus.plain(message_id="<after@example.org>"))
    assert code == 250, reply  # still answering


def new_case(admin: Client, email_address: str) -> str:
    response = admin.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "title": "Outbound test",
            "customer": {"name": "Cy", "email": email_address},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def send(admin: Client, case_id: str, body: str, key: str | None = None) -> dict[str, Any]:
    response = admin.post(
        f"/api/v1/cases/{case_id}/messages",
        json={"channel": "email", "subject": "Your complaint", "body": body},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def copies(suite: Suite, message_id: str) -> int:
    return sum(1 for m in sink(suite) if m["Message-ID"] == message_id)


def test_a_relay_that_fails_twice_then_succeeds_delivers_exactly_once(suite: Suite, admin: Client) -> None:
    address = f"cy-{uuid.uuid4().hex[:8]}@example.org"
    case_id = new_case(admin, address)
    (Path(suite.env["MAIL_SINK_DIR"]) / "fail-next").write_text("2")
    key = str(uuid.uuid4())
    sent = send(admin, case_id, "We have refunded you.", key)
    assert send(admin, case_id, "We have refunded you.", key)["id"] == sent["id"]  # a client retry
    done = eventually(
        lambda: (m := admin.get(f"/api/v1/messages/{sent['id']}").json())["state"] == "sent" and m, timeout=30
    )
    assert [a["outcome"] for a in done["delivery_log"]] == ["retry", "retry", "sent"]
    assert copies(suite, sent["message_id"]) == 1
    assert len(sent_to(suite, address)) == 1


@pytest.mark.parametrize(
    ("crashpoint", "final"), [("dispatch.claimed", "sent"), ("dispatch.transmitted", "uncertain")]
)
def test_a_dispatcher_killed_mid_send_never_sends_twice(
    suite: Suite, admin: Client, crashpoint: str, final: str
) -> None:
    address = f"dee-{uuid.uuid4().hex[:8]}@example.org"
    case_id = new_case(admin, address)
    suite.stop(["dispatcher"])
    suite.start(["dispatcher"], extra_env={"CASEWORK_CRASHPOINT": crashpoint})
    try:
        sent = send(admin, case_id, f"crash at {crashpoint}")
        eventually(lambda: suite.pid("dispatcher") is None, timeout=30)  # it crashed at the point
    finally:
        suite.stop(["dispatcher"])
        suite.start(["dispatcher"])
    done = eventually(
        lambda: (m := admin.get(f"/api/v1/messages/{sent['id']}").json())["state"] == final and m, timeout=30
    )
    assert copies(suite, sent["message_id"]) == 1
    assert "lease expired" in done["delivery_log"][0]["detail"]
