"""Business rules of the documents service: uploads, versions, reads and who may see them."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
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
from casekit.contracts.documents import KINDS
from casekit.contracts.ids import is_uuid
from casekit.contracts.visibility import can_see
from casekit.errors import Conflict, InvalidInput, NotFound, Unavailable
from casekit.faults import crashpoint
from casekit.outbox import EventWriter
from services.documents.filetypes import (  # noqa: F401 - part of this module's interface
    MAX_TAG_LEN,
    MAX_TAGS,
    XML_TYPES,
    detect,
    extension_mismatch,
    sanitize_filename,
    sanitize_tags,
    sniff,
)
from services.documents.models import CaseState, Document, Upload
from services.documents.storage import BlobStore, StagingMissing

MAX_PART = 8 * 1024 * 1024
SNIFF_BYTES = 8192
_CHANNEL = re.compile(r"^[a-z0-9_.-]{1,32}$")


def require_writer(principal: Principal) -> None:
    require_roles(principal, ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN, action="add documents")


require_reader = require_authenticated


def check_case_visible(session: Session, principal: Principal, case_id: str) -> CaseState | None:
    """NotFound when this service knows the case and the caller may not see it."""
    state = session.get(CaseState, case_id) if is_uuid(case_id) else None
    if state is not None and not can_see(principal, team=state.team, restricted=state.restricted):
        raise NotFound(f"case {case_id} not found")
    return state


def get_document(*, session: Session, principal: Principal, document_id: str) -> Document:
    require_reader(principal)
    doc = session.get(Document, document_id) if is_uuid(document_id) else None
    if doc is None:
        raise NotFound(f"document {document_id} not found")
    try:
        check_case_visible(session, principal, doc.case_id)
    except NotFound:
        raise NotFound(f"document {document_id} not found") from None
    return doc


def list_for_case(
    *, session: Session, principal: Principal, case_id: str, all_versions: bool = False
) -> list[Document]:
    """The case's documents, oldest first: the latest version of each unless ``all_versions``."""
    require_reader(principal)
    if not is_uuid(case_id):
        return []
    check_case_visible(session, principal, case_id)
    docs = list(
        session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.created_at))
    )
    if all_versions:
        return docs
    latest: dict[str, Document] = {}
    for doc in docs:
        if doc.group_id not in latest or doc.version > latest[doc.group_id].version:
            latest[doc.group_id] = doc
    return sorted(latest.values(), key=lambda d: (d.created_at, d.id))


def list_versions(*, session: Session, principal: Principal, document_id: str) -> list[Document]:
    doc = get_document(session=session, principal=principal, document_id=document_id)
    return list(
        session.scalars(select(Document).where(Document.group_id == doc.group_id).order_by(Document.version))
    )


# --- uploads ---------------------------------------------------------------------------------


def begin_upload(
    *,
    session: Session,
    principal: Principal,
    case_id: str,
    filename: str | None,
    declared_type: str | None,
    kind: str,
    channel: str,
    tags: list[str] | None = None,
    version_of: str | None = None,
    direct: bool = False,
    idempotency_key: str | None = None,
) -> Upload:
    """A new upload; with ``idempotency_key``, the caller's finished upload under that key if any."""
    require_writer(principal)
    if kind not in KINDS:
        raise InvalidInput.from_field("kind", f"must be one of {', '.join(KINDS)}")
    channel = channel or "web"
    if not _CHANNEL.match(channel):
        raise InvalidInput.from_field("channel", "1 to 32 of a-z, 0-9, '_', '.', '-'")
    if not is_uuid(case_id):
        raise NotFound(f"case {case_id} not found")
    check_case_visible(session, principal, case_id)
    if version_of is not None:
        previous = get_document(session=session, principal=principal, document_id=version_of)
        if previous.case_id != case_id:
            raise NotFound(f"document {version_of} not found")
        filename = filename or previous.filename
    if idempotency_key is not None:
        replayed = _replay(session, principal, idempotency_key, case_id, version_of)
        if replayed is not None:
            return replayed
    upload = Upload(
        id=str(uuid.uuid4()),
        case_id=case_id,
        filename=sanitize_filename(filename),
        declared_type=(declared_type or "")[:255] or None,
        kind=kind,
        channel=channel,
        created_by=principal.user_id,
        tags=sanitize_tags(tags),
        version_of=version_of,
        direct=direct,
        idempotency_key=idempotency_key,
        parts=0,
        size=0,
        state="open",
    )
    session.add(upload)
    return upload


def _replay(
    session: Session, principal: Principal, key: str, case_id: str, version_of: str | None
) -> Upload | None:
    """The finished upload of an earlier request with the same key; None to start (again)."""
    if not key or len(key) > 255:
        raise InvalidInput.from_field("Idempotency-Key", "1 to 255 characters")
    earlier = session.scalars(
        select(Upload)
        .where(Upload.created_by == principal.user_id, Upload.idempotency_key == key)
        .with_for_update()
    ).first()
    if earlier is None:
        return None
    if (earlier.case_id, earlier.version_of) != (case_id, version_of):
        raise InvalidInput.from_field("Idempotency-Key", "was used for a different upload")
    if earlier.state == "finished":
        return earlier
    # the earlier attempt never finished (a timeout, a crash): start again under the same key;
    # its staged bytes go with the sweep
    earlier.state = "aborted"
    earlier.idempotency_key = None
    session.flush()
    return None


def _open_upload(session: Session, principal: Principal, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id, with_for_update=True) if is_uuid(upload_id) else None
    if upload is None or upload.created_by != principal.user_id:
        raise NotFound(f"upload {upload_id} not found")
    if upload.state != "open":
        raise Conflict(f"upload {upload_id} is {upload.state}")
    return upload


def too_large(max_bytes: int) -> InvalidInput:
    return InvalidInput.from_field("file", f"larger than the limit of {max_bytes} bytes")


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
        raise too_large(max_bytes)
    store.stage_write(upload.id, upload.size, data)
    upload.size += len(data)
    upload.parts += 1
    return upload


def abort(*, store: BlobStore, upload: Upload) -> None:
    upload.state = "aborted"
    store.stage_discard(upload.id)


def abort_upload(*, session: Session, store: BlobStore, principal: Principal, upload_id: str) -> None:
    abort(store=store, upload=_open_upload(session, principal, upload_id))


def lock_blob(session: Session, sha256: str) -> None:
    """Serialise work on one blob (an upload that reuses it, the sweep that removes it)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(sha256[:15], 16)})


def claim_blob(session: Session, store: BlobStore, sha256: str) -> None:
    """Hold the blob's lock until commit and make sure it is still there (the sweep may have won)."""
    lock_blob(session, sha256)
    if not store.exists(sha256):
        raise Unavailable("the stored bytes were swept away during the upload; please retry")


def finish_upload(
    *,
    session: Session,
    store: BlobStore,
    principal: Principal,
    upload_id: str,
    events: EventWriter,
    max_bytes: int,
) -> Document:
    upload = _open_upload(session, principal, upload_id)
    size = store.stage_size(upload.id) if upload.direct else upload.size
    if size == 0:
        abort(store=store, upload=upload)
        raise InvalidInput.from_field("file", "is empty")
    if size > max_bytes:
        abort(store=store, upload=upload)
        raise too_large(max_bytes)
    media_type = detect(store.stage_head(upload.id, SNIFF_BYTES), upload.filename)
    try:
        sha, size = store.commit(upload.id, size)
    except StagingMissing:  # a retried finish whose bytes were already committed, or lost staging
        abort(store=store, upload=upload)
        raise InvalidInput.from_field(
            "file", "the upload's bytes are no longer staged; upload it again"
        ) from None
    crashpoint("documents.after_blob_commit")
    claim_blob(session, store, sha)
    group_id, version = str(uuid.uuid4()), 1
    doc_id = group_id
    if upload.version_of is not None:
        previous = session.get(Document, upload.version_of)
        if previous is None:
            abort(store=store, upload=upload)
            raise Conflict(f"document {upload.version_of} was deleted during the upload")
        group_id = previous.group_id
        version = 1 + session.scalar(select(func.max(Document.version)).where(Document.group_id == group_id))
        doc_id = str(uuid.uuid4())
    doc = new_document(
        doc_id=doc_id,
        group_id=group_id,
        version=version,
        case_id=upload.case_id,
        filename=upload.filename,
        media_type=media_type,
        declared_type=upload.declared_type,
        kind=upload.kind,
        channel=upload.channel,
        tags=list(upload.tags or []),
        size=size,
        sha256=sha,
        uploaded_by=principal.user_id,
    )
    session.add(doc)
    upload.state = "finished"
    upload.document_id = doc.id
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("another version of this document was added at the same time; retry") from None
    events.emit(session, ev.DOCUMENT_ADDED, document_out(doc), case_id=doc.case_id)
    return doc


def new_document(**fields: Any) -> Document:
    doc_id = fields.pop("doc_id")
    return Document(
        id=doc_id,
        group_id=fields.pop("group_id", doc_id),
        version=fields.pop("version", 1),
        extension_mismatch=extension_mismatch(fields["filename"], fields["media_type"]),
        text_status="pending",
        legal_hold=False,
        **fields,
    )


def document_out(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "case_id": doc.case_id,
        "group_id": doc.group_id,
        "version": doc.version,
        "parent_id": doc.parent_id,
        "filename": doc.filename,
        "media_type": doc.media_type,
        "declared_type": doc.declared_type,
        "extension_mismatch": bool(doc.extension_mismatch),
        "kind": doc.kind,
        "channel": doc.channel,
        "tags": list(doc.tags or []),
        "size": doc.size,
        "sha256": doc.sha256,
        "uploaded_by": doc.uploaded_by,
        "text_status": doc.text_status,
        "text_error": doc.text_error,
        "legal_hold": bool(doc.legal_hold),
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
    }
