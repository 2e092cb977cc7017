"""A corpus of malformed and hostile emails: (name, raw bytes, what must hold)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from email.message import EmailMessage

ONE_MB = 1024 * 1024


def plain(
    subject: str = "Hello", body: str = "Body text", sender: str = "ann@example.org", **headers: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ann Smith <{sender}>"
    msg["To"] = "help@casework.test"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", "<m1@example.org>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def with_attachments(count: int, size: int = 10, sender: str = "ann@example.org") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@casework.test"
    msg["Subject"] = f"{count} attachments"
    msg["Message-ID"] = f"<att{count}-{size}@example.org>"
    msg.set_content("see attached")
    for i in range(count):
        msg.add_attachment(
            bytes([i % 256]) * size, maintype="application", subtype="octet-stream", filename=f"file{i}.bin"
        )
    return msg.as_bytes()


def nested(depth: int) -> bytes:
    """``depth`` levels of multipart/mixed, a text part at the bottom."""
    boundary = "b{}"
    head = (
        b"From: deep@example.org\r\nTo: help@casework.test\r\nSubject: deep\r\n"
        b"Message-ID: <deep@example.org>\r\nMIME-Version: 1.0\r\n"
    )
    opening, closing = [], []
    for level in range(depth):
        b = boundary.format(level).encode()
        opening.append(b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n")
        closing.insert(0, b"\r\n--" + b + b"--\r\n")
    return head + b"".join(opening) + b"Content-Type: text/plain\r\n\r\nthe bottom\r\n" + b"".join(closing)


def cases() -> Iterator[tuple[str, bytes]]:
    yield "plain", plain()
    yield "no headers at all", b"just some bytes\r\nwith no header block"
    yield "empty", b""
    yield "binary garbage", bytes(range(256)) * 40
    yield (
        "unknown charset",
        (
            b"From: a@example.org\r\nSubject: x\r\nMessage-ID: <cs@example.org>\r\n"
            b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nCaf\xe9 body\r\n"
        ),
    )
    yield (
        "broken base64",
        (
            b"From: a@example.org\r\nSubject: b64\r\nMessage-ID: <b64@example.org>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"!!!not base64@@@\r\n"
        ),
    )
    yield (
        "broken encoded-word subject",
        (
            b"From: a@example.org\r\nSubject: =?utf-8?B?broken?= =?x-bad?Q?=ZZ?=\r\n"
            b"Message-ID: <ew@example.org>\r\n\r\nbody\r\n"
        ),
    )
    yield (
        "raw 8-bit headers",
        (
            b"From: J\xf6rg <jorg@example.org>\r\nSubject: Gr\xfc\xdfe \xff\xfe\r\n"
            b"Message-ID: <8bit@example.org>\r\n\r\nbody \xe9\r\n"
        ),
    )
    yield "header injection in subject", plain(subject="hi\r\nBcc: victim@example.org".replace("\r\n", " "))
    yield (
        "address without domain",
        (b"From: <not-an-address>\r\nSubject: odd\r\nMessage-ID: <addr@example.org>\r\n\r\nbody\r\n"),
    )
    yield (
        "many From headers",
        (
            b"From: a@example.org\r\nFrom: b@example.org\r\nSubject: two\r\n"
            b"Message-ID: <two@example.org>\r\n\r\nbody\r\n"
        ),
    )
    yield (
        "forged Authentication-Results",
        plain(
            Authentication_Results="mx.casework.test; dmarc=pass header.from=bank.example",
            message_id="<ar@x.org>",
        ),
    )
    yield (
        "auto-reply",
        plain(subject="Out of office", Auto_Submitted="auto-replied", message_id="<ooo@x.org>"),
    )
    yield "bulk precedence", plain(subject="Newsletter", Precedence="bulk", message_id="<bulk@x.org>")
    yield (
        "bounce from mailer-daemon",
        plain(subject="Undelivered", sender="mailer-daemon@example.org", message_id="<bounce@x.org>"),
    )
    yield "many attachments", with_attachments(80)
    yield "huge attachment", with_attachments(1, size=26 * ONE_MB)
    yield "deep nesting", nested(60)
    yield "very deep nesting", nested(400)
    yield (
        "html only with script",
        (
            b"From: h@example.org\r\nSubject: html\r\nMessage-ID: <html@example.org>\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p>"
            b"<script>alert(1)</script>\r\n"
        ),
    )
    yield (
        "attachment with path traversal name",
        (
            b"From: t@example.org\r\nSubject: t\r\nMessage-ID: <trav@example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
            b"--XX\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="../../etc/passwd"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(b"%PDF-1.4 fake")
            + b"\r\n--XX--\r\n"
        ),
    )
    yield (
        "unterminated multipart",
        (
            b"From: u@example.org\r\nSubject: u\r\nMessage-ID: <unterm@example.org>\r\n"
            b"Content-Type: multipart/mixed; boundary=QQ\r\n\r\n--QQ\r\n"
            b"Content-Type: text/plain\r\n\r\nstill here\r\n"
        ),
    )
    yield "very long header line", plain(subject="x" * 20000, message_id="<long@example.org>")
    yield "null bytes", plain(subject="nul\x00byte", body="a\x00b", message_id="<nul@example.org>")
