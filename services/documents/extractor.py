"""Text extraction, run in a child process with CPU, memory, file-size and wall-clock limits.

``python -m services.documents.extractor INPUT MEDIA_TYPE OUT_DIR`` prints one JSON object:
``{"status", "text", "error", "attachments": [{"path", "filename", "content_type"}]}`` where
status is ``extracted``, ``unsupported``, ``unavailable`` (OCR engine missing) or ``failed``.
Nothing here touches the database or the store: a parser that loops or explodes can only hurt
this process, which the parent (``services.documents.extraction``) bounds and kills.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import zipfile
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

MAX_TEXT = 1024 * 1024
MAX_PDF_PAGES = 500
MAX_ATTACHMENTS = 50
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_TOTAL = 200 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_DEPTH = 2
MAX_IMAGE_PIXELS = 40_000_000
MAX_OCR_FRAMES = 20
TEXT_ENTRY_SUFFIXES = (".txt", ".csv", ".xml", ".html", ".htm", ".md", ".json")
OCR_UNAVAILABLE = "OCR is not available: the tesseract engine is not installed on this server"


class Rejected(Exception):
    """Input refused on purpose (a bomb, forbidden XML entities); the message says why."""


def _cap(text: str) -> str:
    return text[:MAX_TEXT]


class _TextOnly(HTMLParser):
    SKIP = {"script", "style", "template", "noscript", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.size = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self.skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and self.size < MAX_TEXT and data.strip():
            self.parts.append(data.strip())
            self.size += len(data)


def html_text(raw: bytes) -> str:
    parser = _TextOnly()
    parser.feed(raw.decode("utf-8", errors="replace"))
    parser.close()
    return _cap(" ".join(parser.parts))


def xml_text(raw: bytes) -> str:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise Rejected(f"XML refused: {type(exc).__name__} (DTDs and entities are not allowed)") from None
    return _cap(" ".join(t.strip() for t in root.itertext() if t.strip()))


def csv_text(raw: bytes) -> str:
    out, size = [], 0
    for row in csv.reader(io.StringIO(raw.decode("utf-8", errors="replace"))):
        line = " ".join(cell.strip() for cell in row if cell.strip())
        out.append(line)
        size += len(line)
        if size > MAX_TEXT:
            break
    return _cap("\n".join(out))


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    parts, size = [], 0
    for number, page in enumerate(reader.pages):
        if number >= MAX_PDF_PAGES or size > MAX_TEXT:
            break
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
    return _cap("\n".join(parts))


def zip_text(data: bytes | Path, depth: int = 1) -> str:
    """Inspect an archive's directory before reading a byte of it; text entries are read."""
    if depth > MAX_ZIP_DEPTH:
        raise Rejected(f"archive refused: nested deeper than {MAX_ZIP_DEPTH} levels")
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(source) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise Rejected(f"archive refused: {len(entries)} entries (limit {MAX_ZIP_ENTRIES})")
        total = sum(e.file_size for e in entries)
        if total > MAX_ZIP_TOTAL:
            raise Rejected(f"archive refused: expands to {total} bytes (limit {MAX_ZIP_TOTAL})")
        for entry in entries:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if entry.file_size > 1024 * 1024 and ratio > MAX_ZIP_RATIO:
                raise Rejected(f"archive refused: {entry.filename!r} has a compression ratio of {ratio:.0f}")
        parts = [e.filename for e in entries]
        for entry in entries:
            name = entry.filename.lower()
            if entry.is_dir():
                continue
            if name.endswith((".zip", ".jar")):
                parts.append(zip_text(archive.read(entry), depth + 1))
            elif name.endswith(TEXT_ENTRY_SUFFIXES):
                with archive.open(entry) as fh:
                    parts.append(fh.read(MAX_TEXT).decode("utf-8", errors="replace"))
    return _cap("\n".join(parts))


def email_text(raw: bytes, out_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    lines = [f"{h}: {message.get(h, '')}" for h in ("From", "To", "Cc", "Subject", "Date") if message.get(h)]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        content = body.get_content()
        if body.get_content_type() == "text/html":
            content = html_text(content.encode("utf-8", errors="replace"))
        lines.append(content if isinstance(content, str) else "")
    attachments = []
    for index, part in enumerate(message.iter_attachments()):
        if index >= MAX_ATTACHMENTS:
            lines.append(f"[{MAX_ATTACHMENTS} attachments kept; the rest were ignored]")
            break
        payload = part.get_payload(decode=True)
        if payload is None and part.get_content_type() == "message/rfc822":
            payload = part.as_bytes()
        if not payload:
            continue
        path = out_dir / f"attachment-{index}"
        path.write_bytes(payload)
        attachments.append(
            {
                "path": str(path),
                "filename": part.get_filename() or "",
                "content_type": part.get_content_type(),
            }
        )
    return _cap("\n".join(lines)), attachments


def ocr_text(path: Path) -> str:
    import pytesseract
    from PIL import Image, ImageSequence

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    parts = []
    with Image.open(path) as image:
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            if number >= MAX_OCR_FRAMES:
                break
            parts.append(pytesseract.image_to_string(frame.convert("L")))
    return _cap("\n".join(parts))


def supported(media_type: str) -> tuple[str, str | None] | None:
    """None when ``extract`` has work to do; otherwise the (status, reason) it would give at once."""
    if media_type.startswith("image/") and media_type != "image/svg+xml":
        return None if shutil.which("tesseract") else ("unavailable", OCR_UNAVAILABLE)
    if media_type.startswith("text/") or media_type in (
        "application/pdf",
        "application/xml",
        "image/svg+xml",
        "message/rfc822",
        "application/zip",
    ):
        return None
    return "unsupported", f"no text extractor for {media_type}"


def extract(path: Path, media_type: str, out_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "extracted", "text": "", "error": None, "attachments": []}
    try:
        if media_type == "application/pdf":
            result["text"] = pdf_text(path)
        elif media_type == "text/html":
            result["text"] = html_text(path.read_bytes())
        elif media_type in ("application/xml", "text/xml", "image/svg+xml"):
            result["text"] = xml_text(path.read_bytes())
        elif media_type == "text/csv":
            result["text"] = csv_text(path.read_bytes())
        elif media_type.startswith("text/"):
            with open(path, "rb") as fh:
                result["text"] = fh.read(MAX_TEXT * 4).decode("utf-8", errors="replace")[:MAX_TEXT]
        elif media_type == "message/rfc822":
            result["text"], result["attachments"] = email_text(path.read_bytes(), out_dir)
        elif media_type == "application/zip":
            result["text"] = zip_text(path)
        elif media_type.startswith("image/") and media_type != "image/svg+xml":
            if shutil.which("tesseract") is None:
                return {**result, "status": "unavailable", "error": OCR_UNAVAILABLE}
            result["text"] = ocr_text(path)
        else:
            return {**result, "status": "unsupported", "error": f"no text extractor for {media_type}"}
    except Rejected as exc:
        return {**result, "status": "failed", "error": str(exc)}
    except (MemoryError, RecursionError) as exc:
        return {**result, "status": "failed", "error": f"the extractor ran out of {type(exc).__name__}"}
    except Exception as exc:  # noqa: BLE001 - hostile files break parsers in many ways
        return {**result, "status": "failed", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return result


def main(argv: list[str]) -> int:
    path, media_type, out_dir = Path(argv[0]), argv[1], Path(argv[2])
    sys.setrecursionlimit(2000)
    print(json.dumps(extract(path, media_type, out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
