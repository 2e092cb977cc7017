"""Inbound email, parsed defensively: one normalised item from raw bytes, whatever arrives.

Parsing uses the standard library (``email`` with ``policy.default``). Every header and part is
read inside its own guard, so a broken header, an unknown charset or a malformed part costs that
header or part (noted in ``problems``), never the message. Limits bound the work an attacker can
cause: MIME depth, number and size of attachments. The raw bytes are always kept in full, so a
part we refuse to unpack is still on file.
"""

from __future__ import annotations

import email
import email.utils
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from typing import Any

log = logging.getLogger(__name__)

MAX_DEPTH = 20
MAX_ATTACHMENTS = 50
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_RECEIVED = 40  # more hops than this is a loop
MAX_BODY_CHARS = 200000
AUTH_RESULTS = re.compile(rb"^authentication-results[ \t]*:", re.IGNORECASE | re.MULTILINE)
UNTRUSTED_PREFIX = b"X-Casework-Untrusted-Authentication-Results:"
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass
class Part:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_addr: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    attachments: list[Part] = field(default_factory=list)
    verified: bool = False
    auto: str | None = None  # why this is an automatic message (never answered)
    loop: str | None = None  # why this is a mail loop (refused)
    problems: list[str] = field(default_factory=list)
    raw: bytes = b""  # the stored copy: forged Authentication-Results renamed
    max_attachments: int = MAX_ATTACHMENTS

    @property
    def timeline_text(self) -> str:
        return strip_quotes(self.text or html_to_text(self.html or ""))


# --- headers ----------------------------------------------------------------------------------


def _header(msg: Message, name: str, problems: list[str]) -> str | None:
    try:
        value = msg.get(name)
    except Exception as exc:  # noqa: BLE001 - any defect in a header costs only that header
        problems.append(f"header {name} unreadable ({type(exc).__name__})")
        raw = msg.get_all(name, failobj=None) if hasattr(msg, "get_all") else None
        value = raw[0] if raw else None
    if value is None:
        return None
    try:
        text = str(value)
    except Exception:  # noqa: BLE001
        problems.append(f"header {name} undecodable")
        return None
    return _clean(text)


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch in "\t" or ch >= " ").replace("\x7f", "").strip()


def _ids(text: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]{1,900}>", text or "")[:100]


def _addresses(msg: Message, name: str, problems: list[str]) -> list[tuple[str, str]]:
    try:
        values = msg.get_all(name) or []
        pairs = email.utils.getaddresses([str(v) for v in values])
    except Exception as exc:  # noqa: BLE001
        problems.append(f"header {name} unparseable ({type(exc).__name__})")
        return []
    return [(_clean(n)[:200], a.strip().lower()) for n, a in pairs if EMAIL.match(a.strip())][:100]


def neutralise_auth_results(raw: bytes, trusted: tuple[str, ...]) -> tuple[bytes, int, bool]:
    """Rename every Authentication-Results header our side did not add; (raw, removed, verified).

    Only the topmost header whose authserv-id is one of ``trusted`` counts (RFC 8601: the border
    MTA removes older ones claiming its id); it verifies the sender when it says ``dmarc=pass``.
    """
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head, body = (raw, b"") if end < 0 else (raw[:end], raw[end:])
    verified, removed, trusted_seen = False, 0, False
    out: list[bytes] = []
    pos = 0
    for match in AUTH_RESULTS.finditer(head):
        line_end = head.find(b"\n", match.end())
        value = head[match.end() : line_end if line_end >= 0 else len(head)].strip().lower()
        authserv = value.split(b";", 1)[0].strip().decode("ascii", "replace")
        out.append(head[pos : match.start()])
        if not trusted_seen and authserv in trusted:
            trusted_seen = True
            verified = b"dmarc=pass" in value
            out.append(head[match.start() : match.end()])
        else:
            removed += 1
            out.append(UNTRUSTED_PREFIX)
        pos = match.end()
    out.append(head[pos:])
    return b"".join(out) + body, removed, verified


# --- automatic mail and loops -------------------------------------------------------------------


def automatic(
    msg: Message, from_addr: str | None, envelope_from: str | None, problems: list[str]
) -> str | None:
    """Why ``msg`` was sent by a machine (RFC 3834 and the usual conventions), or None."""
    auto = (_header(msg, "Auto-Submitted", problems) or "no").lower()
    if auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    precedence = (_header(msg, "Precedence", problems) or "").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe"):
        if _header(msg, name, problems):
            return f"{name} present"
    if envelope_from is not None and envelope_from in ("", "<>"):
        return "null envelope sender (a bounce)"
    local = (from_addr or "").split("@")[0]
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply"):
        return f"sender {local}"
    return None


def looped(msg: Message, message_id: str | None, our_domain: str) -> str | None:
    if message_id and message_id.lower().endswith("@" + our_domain.lower() + ">"):
        return "our own message came back (its Message-ID is ours)"
    for value in msg.get_all("X-Loop") or []:
        if our_domain.lower() in str(value).lower():
            return "X-Loop names us"
    hops = len(msg.get_all("Received") or [])
    if hops > MAX_RECEIVED:
        return f"{hops} Received headers (a relay loop)"
    return None


# --- bodies and parts -------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html[: MAX_BODY_CHARS * 2])
        parser.close()
    except Exception:  # noqa: BLE001 - a broken document still yields what was read
        pass
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.out)).strip()


QUOTE_HEADER = re.compile(
    r"^(On .{1,200}wrote:|-{2,}\s*Original Message\s*-{2,}|_{10,}|From: .+|Le .{1,200}a écrit ?:|"
    r"Am .{1,200}schrieb .{1,100}:)\s*$",
    re.IGNORECASE,
)


def strip_quotes(text: str) -> str:
    """The new part of a reply: quoted lines, the quote header and the signature removed."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.rstrip() in ("-- ", "--") or QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    return result or text.strip()


def _payload(part: Message, problems: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"part undecodable ({type(exc).__name__})")
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    return data


def _text_of(part: Message, problems: list[str]) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except Exception as exc:  # noqa: BLE001 - unknown charset, broken transfer encoding
        problems.append(f"text part decoded leniently ({type(exc).__name__})")
    data = _payload(part, problems)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _filename(part: Message, index: int, problems: list[str]) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        problems.append(f"attachment {index} has an unreadable filename")
        name = None
    name = _clean(str(name or ""))
    name = re.sub(r"[\\/]+", "_", name).lstrip(".")[:200]
    return name or f"attachment-{index}"


def _walk(msg: Message, parsed: ParsedEmail, depth: int) -> None:
    if depth > MAX_DEPTH:
        parsed.problems.append(
            f"MIME nesting deeper than {MAX_DEPTH}: inner parts kept only in the raw message"
        )
        return
    try:
        ctype = msg.get_content_type()
        disposition = (msg.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        ctype, disposition = "application/octet-stream", "attachment"
    if msg.is_multipart():
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _walk(sub, parsed, depth + 1)
        return
    is_file = disposition == "attachment" or (
        disposition != "inline" and not ctype.startswith("text/") and ctype != "message/delivery-status"
    )
    if not is_file and ctype == "text/plain" and not parsed.text:
        parsed.text = _text_of(msg, parsed.problems)[:MAX_BODY_CHARS]
        return
    if not is_file and ctype == "text/html" and parsed.html is None:
        parsed.html = _text_of(msg, parsed.problems)[: MAX_BODY_CHARS * 2]
        return
    index = len(parsed.attachments) + 1
    if len(parsed.attachments) >= parsed.max_attachments:
        if not any(p.startswith("more than") for p in parsed.problems):
            parsed.problems.append(
                f"more than {parsed.max_attachments} attachments: the rest kept only in the raw message"
            )
        return
    data = _payload(msg, parsed.problems)
    name = _filename(msg, index, parsed.problems)
    if len(data) > MAX_ATTACHMENT_BYTES:
        parsed.problems.append(
            f"attachment {name!r} is {len(data)} bytes (limit {MAX_ATTACHMENT_BYTES}): "
            "kept only in the raw message"
        )
        return
    if not data:
        return
    parsed.attachments.append(Part(filename=name, content_type=ctype, data=data))


def parse(
    raw: bytes,
    *,
    envelope_from: str | None = None,
    trusted_authserv: tuple[str, ...] = (),
    our_domain: str = "casework.invalid",
    max_attachments: int = MAX_ATTACHMENTS,
) -> ParsedEmail:
    """Parse ``raw`` into a ParsedEmail; never raises on malformed input."""
    stored, removed, verified = neutralise_auth_results(raw, trusted_authserv)
    parsed = ParsedEmail(raw=stored, verified=verified, max_attachments=max_attachments)
    if removed:
        parsed.problems.append(
            f"{removed} Authentication-Results header(s) not added by us: renamed, ignored"
        )
    try:
        msg: EmailMessage = email.message_from_bytes(stored, policy=policy.default)  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; belt and braces
        parsed.problems.append(f"unparseable message ({type(exc).__name__}): kept raw")
        parsed.text = stored[:MAX_BODY_CHARS].decode("utf-8", "replace")
        return parsed
    p = parsed.problems
    for defect in getattr(msg, "defects", [])[:5]:
        p.append(f"defect: {type(defect).__name__}")
    parsed.message_id = (_ids(_header(msg, "Message-ID", p)) or [None])[0]
    parsed.in_reply_to = (_ids(_header(msg, "In-Reply-To", p)) or [None])[0]
    parsed.references = _ids(_header(msg, "References", p))
    parsed.subject = (_header(msg, "Subject", p) or "")[:998]
    senders = _addresses(msg, "From", p)
    if senders:
        parsed.from_name, parsed.from_addr = senders[0]
    elif envelope_from and EMAIL.match(envelope_from):
        parsed.from_addr = envelope_from.lower()
        p.append("no usable From header: the envelope sender is used")
    parsed.to = [a for _, a in _addresses(msg, "To", p)]
    parsed.cc = [a for _, a in _addresses(msg, "Cc", p)]
    try:
        parsed.date = email.utils.parsedate_to_datetime(_header(msg, "Date", p) or "")
        if parsed.date.tzinfo is None:
            parsed.date = parsed.date.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        parsed.date = None
    parsed.auto = automatic(msg, parsed.from_addr, envelope_from, p)
    parsed.loop = looped(msg, parsed.message_id, our_domain)
    try:
        _walk(msg, parsed, 0)
    except RecursionError:
        p.append("MIME structure too deep to walk: kept only in the raw message")
    return parsed


def now() -> datetime:
    return datetime.now(UTC)
