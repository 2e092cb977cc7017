"""Business rules of the documents service."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    Principal,
    require_authenticated,
    require_roles,
)
from casekit.contracts import events as ev
from casekit.contracts.ids import is_uuid
from casekit.errors import Conflict, InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.documents.models import Document, Upload
from services.documents.storage import BlobStore

KINDS = (
    "scanned_post",
    "email",
    "web_form",
    "sms",
    "photo",
    "video",
    "fax",
    "call_record",
    "third_party",
    "other",
)
MAX_PART = 8 * 1024 * 1024
MAX_TEXT = 1024 * 1024
SNIFF_BYTES = 8192
_UNSAFE = re.compile(r"[^A-Za-z0-9._ \-]")


def require_writer(principal: Principal) -> None:
    require_roles(principal, ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN, action="add documents")


require_reader = require_authenticated


def sanitize_filename(name: str | None) -> str:
    """A display name safe anywhere: no separators, controls or leading dots; ≤128 chars."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    base = base[-128:].lstrip(" .")
    return base or "file"


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


def begin_upload(
    *,
    session: Session,
    principal: Principal,
    case_id: str,
    filename: str | None,
    declared_type: str | None,
    kind: str,
    channel: str,
) -> Upload:
    require_writer(principal)
    if kind not in KINDS:
        raise InvalidInput.from_field("kind", f"must be one of {', '.join(KINDS)}")
    if not is_uuid(case_id):
        raise NotFound(f"case {case_id} not found")
    upload = Upload(
        id=str(uuid.uuid4()),
        case_id=case_id,
        filename=sanitize_filename(filename),
        declared_type=(declared_type or "")[:255] or None,
        kind=kind,
        channel=(channel or "web")[:32],
        created_by=principal.user_id,
    )
    session.add(upload)
    return upload


def _open_upload(session: Session, principal: Principal, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id, with_for_update=True) if is_uuid(upload_id) else None
    if upload is None or upload.created_by != principal.user_id:
        raise NotFound(f"upload {upload_id} not found")
    if upload.state != "open":
        raise Conflict(f"upload {upload_id} is {upload.state}")
    return upload


def append_part(
    *,
    session: Session,
    store: BlobStore,
    principal: Principal,
    upload_id: str,
    index: int,
    data: bytes,
    max_bytes: int,
) -> Upload:
    upload = _open_upload(session, principal, upload_id)
    if index < upload.parts:
        return upload  # a retried part that was already appended
    if index != upload.parts:
        raise InvalidInput.from_field("index", f"expected part {upload.parts}, got {index}")
    if len(data) > MAX_PART:
        raise InvalidInput.from_field("data", f"a part may hold at most {MAX_PART} bytes")
    if upload.size + len(data) > max_bytes:
        abort(store=store, upload=upload)
        raise InvalidInput.from_field("file", f"larger than the limit of {max_bytes} bytes")
    upload.size = store.stage_append(upload.id, data)
    upload.parts += 1
    return upload


def abort(*, store: BlobStore, upload: Upload) -> None:
    upload.state = "aborted"
    store.stage_discard(upload.id)


def abort_upload(*, session: Session, store: BlobStore, principal: Principal, upload_id: str) -> None:
    abort(store=store, upload=_open_upload(session, principal, upload_id))


def finish_upload(
    *,
    session: Session,
    store: BlobStore,
    principal: Principal,
    upload_id: str,
    events: EventWriter,
) -> Document:
    upload = _open_upload(session, principal, upload_id)
    if upload.size == 0:
        abort(store=store, upload=upload)
        raise InvalidInput.from_field("file", "is empty")
    media_type = sniff(store.stage_head(upload.id, SNIFF_BYTES))
    sha, size = store.commit(upload.id)
    doc = Document(
        id=str(uuid.uuid4()),
        case_id=upload.case_id,
        filename=upload.filename,
        media_type=media_type,
        declared_type=upload.declared_type,
        kind=upload.kind,
        channel=upload.channel,
        size=size,
        sha256=sha,
        uploaded_by=principal.user_id,
        text_status="pending",
    )
    session.add(doc)
    upload.state = "finished"
    upload.document_id = doc.id
    session.flush()
    events.emit(session, ev.DOCUMENT_ADDED, document_out(doc), case_id=doc.case_id)
    return doc


def extract_text(*, store: BlobStore, doc: Document) -> tuple[str, str]:
    """Return (status, text). Plain text only for now; other types say so."""
    if not doc.media_type.startswith("text/"):
        return "unsupported", ""
    raw = b"".join(store.read(doc.sha256, 0, MAX_TEXT))
    return "extracted", raw.decode("utf-8", errors="replace")


def get_document(*, session: Session, principal: Principal, document_id: str) -> Document:
    require_reader(principal)
    doc = session.get(Document, document_id) if is_uuid(document_id) else None
    if doc is None:
        raise NotFound(f"document {document_id} not found")
    return doc


def list_for_case(*, session: Session, principal: Principal, case_id: str) -> list[Document]:
    require_reader(principal)
    return list(
        session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.created_at))
    )


def document_out(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "case_id": doc.case_id,
        "filename": doc.filename,
        "media_type": doc.media_type,
        "declared_type": doc.declared_type,
        "kind": doc.kind,
        "channel": doc.channel,
        "size": doc.size,
        "sha256": doc.sha256,
        "uploaded_by": doc.uploaded_by,
        "text_status": doc.text_status,
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
    }
