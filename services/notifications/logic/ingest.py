"""From a normalised inbound item to a case: intake, the raw message and attachments as documents,
and the automatic acknowledgement when the case type asks for one.

Every step is idempotent (intake by provider id, each document by an idempotency key derived from
the provider id), so an adapter that fails half-way answers "try again" to its sender and the
redelivery completes the work without doubling anything.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from casekit.errors import InvalidInput
from services.notifications.logic.email_in import ParsedEmail

log = logging.getLogger(__name__)
PART = 4 * 1024 * 1024


class Bus(Protocol):
    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any: ...


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    return CONTROL.sub("", text)


@dataclass
class Document:
    filename: str
    kind: str
    data: bytes
    content_type: str | None = None


@dataclass
class Inbound:
    channel: str
    provider_id: str
    sender_name: str
    sender_email: str | None = None
    sender_phone: str | None = None
    subject: str = ""
    body: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    received_at: datetime | None = None
    documents: list[Document] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    may_acknowledge: bool = True

    def intake_item(self) -> dict[str, Any]:
        """The item as ``cases.intake`` takes it (control characters such as NUL removed)."""
        sender: dict[str, Any] = {
            "name": (self.sender_name or self.sender_email or self.sender_phone or "?")[:200]
        }
        if self.sender_email:
            sender["email"] = self.sender_email
        if self.sender_phone:
            sender["phone"] = self.sender_phone
        return {
            "channel": self.channel,
            "provider_id": self.provider_id[:255],
            "sender": sender,
            "subject": printable(self.subject)[:998],
            "body": printable(self.body)[:200000],
            "thread": {
                "message_id": self.message_id,
                "in_reply_to": self.in_reply_to,
                "references": self.references[:100],
            },
            "received_at": self.received_at.isoformat() if self.received_at else None,
        }


def email_provider_id(parsed: ParsedEmail) -> str:
    """Message-ID plus a digest of the body: the same message by two routes is one item, and a
    forged Message-ID on different content is a different one (it is never silently dropped)."""
    raw = parsed.raw
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    digest = hashlib.sha256(raw[end:] if end >= 0 else raw).hexdigest()[:24]
    return f"{(parsed.message_id or '<none>')[:200]}#{digest}"


def from_email(parsed: ParsedEmail, *, channel: str = "email", fax: bool = False) -> Inbound:
    """The raw message is stored as one document of kind email; the documents service unpacks its
    attachments into documents of their own (linked by ``parent_id``), so they are not uploaded
    again here. Fax-to-email is the exception: its pages are converted and stored as kind fax."""
    docs = [Document("message.eml", "email", parsed.raw, "message/rfc822")]
    if fax:
        docs += [Document(a.filename, "fax", a.data, a.content_type) for a in parsed.attachments]
    return Inbound(
        channel=channel,
        provider_id=email_provider_id(parsed),
        sender_name=parsed.from_name or (parsed.from_addr or "unknown sender"),
        sender_email=parsed.from_addr,
        subject=parsed.subject,
        body=parsed.timeline_text,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        received_at=parsed.date,
        documents=docs,
        meta={
            "sender_verified": parsed.verified,
            "to": parsed.to[:20],
            "cc": parsed.cc[:20],
            "automatic": parsed.auto,
            "html": parsed.html is not None,
            "problems": parsed.problems[:20],
            "attachments": [
                {"filename": a.filename, "type": a.content_type, "bytes": len(a.data)}
                for a in parsed.attachments
            ][:50],
        },
        may_acknowledge=parsed.auto is None and parsed.from_addr is not None,
    )


class RateLimit:
    """At most ``limit`` events per ``window`` seconds per key (in this process)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.hits) > 100000:
                self.hits.clear()
            q = self.hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


def store_document(bus: Bus, case_id: str, doc: Document, *, key: str, channel: str) -> dict[str, Any]:
    """Stream ``doc`` into the case folder; a retry with the same ``key`` returns the same document."""
    begun = bus.call(
        "documents",
        "begin_upload",
        case_id,
        filename=doc.filename,
        declared_type=doc.content_type,
        kind=doc.kind,
        channel=channel,
        tags=[channel],
        idempotency_key=key,
    )
    if "document" in begun:
        return begun["document"]
    upload_id = begun["upload_id"]
    step = min(PART, int(begun.get("max_part") or PART))
    try:
        for index, start in enumerate(range(0, max(len(doc.data), 1), step)):
            chunk = doc.data[start : start + step]
            bus.call("documents", "upload_part", upload_id, index, base64.b64encode(chunk).decode())
        return bus.call("documents", "finish_upload", upload_id)
    except Exception:
        try:
            bus.call("documents", "abort_upload", upload_id)
        except Exception:  # noqa: BLE001 - the original error matters more
            log.warning("could not abort an upload", extra={"upload_id": upload_id})
        raise


def take_in(
    bus: Bus,
    item: Inbound,
    *,
    ack_limit: RateLimit | None = None,
    ack_template: str = "acknowledgement",
) -> dict[str, Any]:
    """Intake, documents, acknowledgement. Raises when a step failed (the sender should retry)."""
    documents_meta = [{"filename": d.filename, "kind": d.kind, "bytes": len(d.data)} for d in item.documents]
    meta = {**item.meta, "documents": documents_meta}
    try:
        result = bus.call("cases", "intake", item.intake_item(), meta=meta)
    except InvalidInput as exc:
        if not item.sender_email or "sender" not in f"{exc} {getattr(exc, 'fields', '')}":
            raise
        log.warning("sender address refused by intake; taken in without it", extra={"error": str(exc)})
        meta["problems"] = [*meta.get("problems", []), f"sender address {item.sender_email!r} refused"]
        item.sender_name, item.sender_email, item.may_acknowledge = item.sender_email, None, False
        result = bus.call("cases", "intake", item.intake_item(), meta=meta)
    case_id = result["case_id"]
    stored: list[str] = []
    refused: list[dict[str, str]] = []
    for index, doc in enumerate(item.documents):
        key = "intake:" + hashlib.sha256(f"{item.channel}|{item.provider_id}|{index}".encode()).hexdigest()
        try:
            stored.append(store_document(bus, case_id, doc, key=key, channel=item.channel)["id"])
        except InvalidInput as exc:  # too large, or a type the store refuses: the rest goes on
            log.warning(
                "document refused by the store; the message is taken in without it",
                extra={
                    "case_id": case_id,
                    "document": doc.filename,
                    "bytes": len(doc.data),
                    "error": str(exc),
                },
            )
            refused.append({"filename": doc.filename, "error": str(exc)[:300]})
    result["documents"] = stored
    result["refused_documents"] = refused
    result["acknowledged"] = False
    if result.get("acknowledge") and item.may_acknowledge:
        address = item.sender_email if item.channel == "email" else item.sender_phone
        if address and (ack_limit is None or ack_limit.allow(address)):
            bus.call(
                "notifications",
                "send_message",
                case_id,
                {
                    "channel": "email" if item.channel == "email" else "sms",
                    "to": address,
                    "template": ack_template,
                    "in_reply_to": item.message_id,
                    "purpose": "acknowledgement",
                },
                idempotency_key=f"ack:{item.channel}:{item.provider_id}"[:255],
            )
            result["acknowledged"] = True
        elif address:
            log.info("acknowledgement suppressed: rate limit per sender", extra={"sender": address})
    elif result.get("acknowledge"):
        log.info(
            "acknowledgement suppressed: automatic message",
            extra={"reason": item.meta.get("automatic"), "provider_id": item.provider_id},
        )
    return result
