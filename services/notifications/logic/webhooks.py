"""SMS and fax by provider webhook (Twilio's parameters), normalised into inbound items.

The gateway checks the provider's signature before anything reaches here. Media named in the
webhook is fetched only from the provider's own media host (``MEDIA_URL_PREFIXES``), with its
credentials and a size cap: a webhook must not make us fetch arbitrary URLs.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import requests

from casekit.errors import InvalidInput
from services.notifications.logic import fax
from services.notifications.logic.ingest import Document, Inbound

log = logging.getLogger(__name__)
PHONE = re.compile(r"^\+?[0-9 ()\-]{3,40}$")
MAX_MEDIA = 10
SID = re.compile(r"^[A-Za-z0-9]{10,64}$")


def fetch(url: str, *, prefixes: tuple[str, ...], auth: tuple[str, str] | None, max_bytes: int) -> bytes:
    if not any(url.startswith(p) for p in prefixes):
        raise InvalidInput.from_field("MediaUrl", "is not on the provider's media host")
    with requests.get(url, auth=auth, timeout=30, stream=True, allow_redirects=False) as response:
        response.raise_for_status()
        data = bytearray()
        for chunk in response.iter_content(64 * 1024):
            data += chunk
            if len(data) > max_bytes:
                raise InvalidInput.from_field("MediaUrl", f"media larger than {max_bytes} bytes")
    return bytes(data)


def _sender(params: dict[str, str]) -> str:
    sender = (params.get("From") or "").strip()
    if not PHONE.match(sender):
        raise InvalidInput.from_field("From", "is not a phone number")
    return sender


def _raw(params: dict[str, str], kind: str, name: str) -> Document:
    return Document(name, kind, json.dumps(params, sort_keys=True, indent=1).encode(), "application/json")


def sms(params: dict[str, str], *, fetcher: Any) -> Inbound:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not SID.match(sid):
        raise InvalidInput.from_field("MessageSid", "is missing or malformed")
    sender = _sender(params)
    docs = [_raw(params, "sms", "sms.json")]
    count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    for i in range(count):
        url = params.get(f"MediaUrl{i}")
        if url:
            ctype = params.get(f"MediaContentType{i}") or "application/octet-stream"
            kind = "photo" if ctype.startswith("image/") else "other"
            docs.append(Document(f"media-{i}", kind, fetcher(url), ctype))
    return Inbound(
        channel="sms",
        provider_id=f"twilio:{sid}",
        sender_name=sender,
        sender_phone=sender,
        body=(params.get("Body") or "")[:200000],
        subject="",
        documents=docs,
        meta={"sender_verified": False, "to": [params.get("To", "")[:40]], "provider": "twilio"},
    )


def fax_in(params: dict[str, str], *, fetcher: Any) -> Inbound:
    sid = params.get("FaxSid") or ""
    if not SID.match(sid):
        raise InvalidInput.from_field("FaxSid", "is missing or malformed")
    sender = _sender(params)
    url = params.get("MediaUrl")
    if not url:
        raise InvalidInput.from_field("MediaUrl", "is required for a received fax")
    data = fetcher(url)
    if not (fax.is_pdf(data) or fax.is_tiff(data)):
        raise InvalidInput.from_field("MediaUrl", "the fax is neither PDF nor TIFF")
    pages = fax.to_pdf_documents(
        [Document(f"fax-{sid}.tiff" if fax.is_tiff(data) else f"fax-{sid}.pdf", "fax", data)]
    )
    return Inbound(
        channel="fax",
        provider_id=f"twilio:{sid}",
        sender_name=sender,
        sender_phone=sender,
        subject=f"Fax from {sender}",
        body=f"Fax of {params.get('NumPages') or '?'} page(s) from {sender}",
        documents=[_raw(params, "fax", "fax.json"), *pages],
        meta={"sender_verified": False, "pages": params.get("NumPages"), "provider": "twilio"},
    )
