"""What a file is: safe display names and tags, and media types from the bytes (never the claim)."""

from __future__ import annotations

import mimetypes
import re
import unicodedata

import filetype

from casekit.errors import InvalidInput

MAX_TAGS, MAX_TAG_LEN = 20, 64

_UNSAFE = re.compile(r"[^A-Za-z0-9._ \-]")
_MAIL_HEADER = re.compile(
    rb"^(received|return-path|from|to|subject|date|message-id|mime-version|delivered-to|x-[a-z0-9-]+):",
    re.IGNORECASE,
)
XML_TYPES = ("application/xml", "text/xml", "image/svg+xml")


def sanitize_filename(name: str | None) -> str:
    """A display name safe anywhere: no separators, controls or leading dots; ≤128 chars."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    base = base[-128:].lstrip(" .")
    return base or "file"


def sanitize_tags(tags: list[str] | None) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidInput.from_field("tags", f"must be a list of at most {MAX_TAGS} tags")
    out: list[str] = []
    for tag in tags:
        clean = "".join(c for c in str(tag) if unicodedata.category(c)[0] != "C").strip()
        if not clean or len(clean) > MAX_TAG_LEN:
            raise InvalidInput.from_field("tags", f"each tag has 1 to {MAX_TAG_LEN} visible characters")
        if clean not in out:
            out.append(clean)
    return out


def sniff(head: bytes) -> str:
    """Media type from the bytes; the client's claim is never used here."""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut off by the end of the sample is still text
        if exc.reason != "unexpected end of data":
            return "application/octet-stream"
    if b"\x00" in head:
        return "application/octet-stream"
    return "text/plain"


def detect(head: bytes, filename: str) -> str:
    """``sniff`` refined for text formats: HTML, XML, SVG, email; CSV by name when the bytes are text."""
    media = sniff(head)
    if media != "text/plain":
        return media
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024].lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:256]:
        return "text/html"
    if b"<svg" in start:
        return "image/svg+xml"
    if start.startswith(b"<?xml") or (start.startswith(b"<") and start.rstrip().endswith(b">")):
        return "application/xml"
    lines = head.lstrip(b"\r\n").splitlines()[:8]
    if len(lines) >= 2 and sum(1 for line in lines if _MAIL_HEADER.match(line)) >= 2:
        return "message/rfc822"
    if filename.lower().endswith(".csv"):
        return "text/csv"
    return "text/plain"


def extension_mismatch(filename: str, media_type: str) -> bool:
    """True when the name's extension names a type that the bytes are not."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if guessed is None or guessed == media_type:
        return False
    if guessed.startswith("text/") and media_type.startswith("text/"):
        return False
    return not (guessed in XML_TYPES and media_type in XML_TYPES)


# --- visibility ------------------------------------------------------------------------------
