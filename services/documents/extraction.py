"""Background text extraction: run the extractor in a bounded child process, then record it.

The child (``services.documents.extractor``) gets CPU seconds, address space and file-size
limits (``setrlimit``) and a wall-clock timeout; whatever it does, the worker sees one of
``extracted``, ``unsupported``, ``unavailable`` or ``failed`` with a plain reason, and logs
failures. An email's attachments become documents of their own, linked by ``parent_id``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from casekit.contracts import events as ev
from casekit.outbox import EventWriter
from services.documents import extractor, logic
from services.documents.models import Document
from services.documents.storage import BlobMissing, BlobStore, put_bytes

log = logging.getLogger(__name__)

MAX_DEPTH = 3  # an email in an email in an email: attachments below this are not unpacked


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 20
    wall_seconds: float = 30.0
    memory_bytes: int = 1024 * 1024 * 1024
    output_bytes: int = 200 * 1024 * 1024


@dataclass
class Outcome:
    status: str
    text: str = ""
    error: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


def _limit(limits: Limits) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_extractor(path: Path, media_type: str, out_dir: Path, limits: Limits) -> Outcome:
    """Run the extractor on a file; never raises for anything the file can make it do."""
    argv = [sys.executable, "-m", "services.documents.extractor", str(path), media_type, str(out_dir)]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            capture_output=True,
            timeout=limits.wall_seconds,
            preexec_fn=_limit(limits),  # noqa: PLW1509 - setrlimit must run in the child
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(
            "failed", error=f"extraction took longer than {limits.wall_seconds:g} s and was stopped"
        )
    if done.returncode != 0:
        if done.returncode in (-9, -24):  # SIGKILL / SIGXCPU from RLIMIT_CPU
            error = f"extraction exceeded its CPU limit of {limits.cpu_seconds} s and was stopped"
        else:
            tail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            error = f"extraction failed (exit {done.returncode}): {tail[0][:300]}"
        return Outcome("failed", error=error)
    try:
        body = json.loads(done.stdout)
    except ValueError:
        return Outcome("failed", error="the extractor's output was unreadable")
    return Outcome(body["status"], body.get("text") or "", body.get("error"), body.get("attachments") or [])


def extract_blob(store: BlobStore, doc: Document, limits: Limits, work: Path) -> Outcome:
    """Extract from a stored blob (read straight from disk on the local store)."""
    verdict = extractor.supported(doc.media_type)
    if verdict is not None:  # no child process for what has no extractor
        return Outcome(verdict[0], error=verdict[1])
    local = getattr(store, "blob_path", None)
    if local is not None:
        path = local(doc.sha256)
    else:
        path = work / "input"
        try:
            with open(path, "wb") as fh:
                for chunk in store.read(doc.sha256):
                    fh.write(chunk)
        except BlobMissing:
            return Outcome("failed", error="the stored bytes are missing")
    return run_extractor(path, doc.media_type, work, limits)


def depth(session: Session, doc: Document) -> int:
    level, current = 0, doc
    while current.parent_id is not None and level < MAX_DEPTH + 1:
        parent = session.get(Document, current.parent_id)
        if parent is None:
            break
        level, current = level + 1, parent
    return level


def store_attachments(
    session: Session, store: BlobStore, events: EventWriter, doc: Document, outcome: Outcome, max_bytes: int
) -> list[Document]:
    """Each attachment of an email becomes a document of its own, linked to the email."""
    if not outcome.attachments:
        return []
    if depth(session, doc) >= MAX_DEPTH:
        outcome.error = f"attachments not unpacked: emails nested deeper than {MAX_DEPTH} levels"
        return []
    added = []
    for item in outcome.attachments:
        path = Path(item["path"])
        size = path.stat().st_size
        if size == 0 or size > max_bytes:
            log.warning("attachment skipped", extra={"document_id": doc.id, "size": size})
            continue
        with open(path, "rb") as fh:
            head = fh.read(logic.SNIFF_BYTES)
        filename = logic.sanitize_filename(item.get("filename") or "attachment")
        with open(path, "rb") as fh:
            sha, size = put_bytes(store, str(uuid.uuid4()), iter(lambda fh=fh: fh.read(1024 * 1024), b""))
        logic.claim_blob(session, store, sha)
        child = logic.new_document(
            doc_id=str(uuid.uuid4()),
            case_id=doc.case_id,
            parent_id=doc.id,
            filename=filename,
            media_type=logic.detect(head, filename),
            declared_type=(item.get("content_type") or "")[:255] or None,
            kind=doc.kind,
            channel=doc.channel,
            tags=list(doc.tags or []),
            size=size,
            sha256=sha,
            uploaded_by=doc.uploaded_by,
        )
        session.add(child)
        session.flush()
        events.emit(session, ev.DOCUMENT_ADDED, logic.document_out(child), case_id=doc.case_id)
        added.append(child)
    return added


def work_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="casework-extract-")


def record(session: Session, events: EventWriter, doc: Document, outcome: Outcome) -> None:
    doc.text_status = outcome.status
    doc.text_error = outcome.error
    if outcome.status == "failed":
        log.warning("text extraction failed", extra={"document_id": doc.id, "error": outcome.error})
    if outcome.status == "extracted":
        events.emit(
            session,
            ev.DOCUMENT_TEXT_EXTRACTED,
            {"document_id": doc.id, "filename": doc.filename, "text": outcome.text},
            case_id=doc.case_id,
        )
