"""Retention, legal hold, deletion with tombstones, and the sweep of orphaned bytes.

- Cases events keep ``case_states`` (team, restricted, status, closed_at, retention_days) current,
  ordered by ``case_version`` so a stale or redelivered event is a no-op.
- Documents of a closed case become deletable once ``closed_at + retention_days`` has passed
  (database time). A legal hold on the case or on the document blocks every deletion path:
  ``delete_document``, ``dispose_expired`` and the sweep (which only removes unreferenced bytes).
- A deletion removes the row, writes a tombstone (who, when, why, hash) and emits
  ``document_removed`` in the same transaction; the bytes go once nothing points at them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, require_roles
from casekit.contracts import events as ev
from casekit.contracts.ids import is_uuid
from casekit.errors import Conflict, InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.documents.logic import check_case_visible, get_document, lock_blob
from services.documents.models import CaseState, Document, Hold, Tombstone, Upload
from services.documents.storage import BlobMissing, BlobStore

log = logging.getLogger(__name__)

DISPOSE_BATCH = 200
MIN_REASON = 3


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def apply_case_event(session: Session, event: dict[str, Any]) -> bool:
    """Copy the case snapshot of a cases event; False when it is older than what we hold."""
    case = event["data"].get("case") or {}
    case_id = event.get("case_id") or case.get("id")
    if not is_uuid(case_id):
        return False
    version = int(event.get("case_version") or case.get("version") or 0)
    state = session.get(CaseState, case_id, with_for_update=True)
    if state is None:
        state = CaseState(case_id=case_id, case_version=-1, legal_hold=False, restricted=False)
        session.add(state)
    if version and version <= state.case_version:
        return False
    state.case_version = version
    state.team = case.get("team")
    state.restricted = bool(case.get("restricted"))
    state.status = case.get("status") or state.status
    if event["type"] == ev.CASE_CLOSED:
        state.status = "closed"
    elif event["type"] == ev.CASE_REOPENED:
        state.status = "open"
    if state.status == "closed":
        state.closed_at = _parse_time(case.get("closed_at")) or _parse_time(event.get("occurred_at"))
    else:
        state.closed_at = None
    if "retention_days" in case:
        days = case.get("retention_days")
        state.retention_days = int(days) if isinstance(days, int | float) and days >= 0 else None
    return True


def apply_merge(session: Session, event: dict[str, Any]) -> int:
    """On the survivor's ``case_merged``: move every document of the source case to the survivor.

    Idempotent (a second run finds nothing left to move). A legal hold on the source case follows
    its documents as a document-level hold, so a merge never releases a hold.
    """
    merge = event["data"].get("merge") or {}
    source, survivor = merge.get("source_case_id"), merge.get("survivor_case_id")
    if merge.get("role") != "survivor" or not (is_uuid(source) and is_uuid(survivor)) or source == survivor:
        return 0
    held = session.get(CaseState, source)
    values: dict[str, Any] = {"case_id": survivor}
    if held is not None and held.legal_hold:
        values["legal_hold"] = True
    moved = session.execute(update(Document).where(Document.case_id == source).values(**values)).rowcount
    if moved:
        log.info("documents moved by a merge", extra={"from": source, "to": survivor, "count": moved})
    return int(moved or 0)


def _reason(reason: str | None) -> str:
    clean = (reason or "").strip()
    if len(clean) < MIN_REASON or len(clean) > 1000:
        raise InvalidInput.from_field("reason", f"give a reason of {MIN_REASON} to 1000 characters")
    return clean


def set_hold(
    *,
    session: Session,
    principal: Principal,
    target: str,
    target_id: str,
    on: bool,
    reason: str | None,
) -> dict[str, Any]:
    """Place (``on``) or release a legal hold on a case or a document (all its versions)."""
    require_roles(principal, ROLE_SUPERVISOR, ROLE_ADMIN, action="place or release legal holds")
    why = _reason(reason)
    if target == "case":
        if not is_uuid(target_id):
            raise NotFound(f"case {target_id} not found")
        check_case_visible(session, principal, target_id)
        state = session.get(CaseState, target_id, with_for_update=True)
        if state is None:
            state = CaseState(case_id=target_id, case_version=0, legal_hold=False, restricted=False)
            session.add(state)
        state.legal_hold = on
        case_id = target_id
    elif target == "document":
        doc = get_document(session=session, principal=principal, document_id=target_id)
        session.execute(update(Document).where(Document.group_id == doc.group_id).values(legal_hold=on))
        case_id = doc.case_id
    else:
        raise InvalidInput.from_field("target", "must be case or document")
    if on:
        session.add(
            Hold(
                id=str(uuid.uuid4()),
                target=target,
                target_id=target_id,
                case_id=case_id,
                reason=why,
                placed_by=principal.user_id,
            )
        )
    else:
        session.execute(
            update(Hold)
            .where(Hold.target == target, Hold.target_id == target_id, Hold.released_at.is_(None))
            .values(released_by=principal.user_id, released_at=func.now(), release_reason=why)
        )
    session.flush()
    return {"target": target, "id": target_id, "case_id": case_id, "legal_hold": on}


def deletable(session: Session, doc: Document) -> str | None:
    """Why ``doc`` may not be deleted now, or None."""
    if doc.legal_hold:
        return f"document {doc.id} is under legal hold"
    state = session.get(CaseState, doc.case_id)
    if state is not None and state.legal_hold:
        return f"case {doc.case_id} is under legal hold"
    if state is None or state.status != "closed" or state.closed_at is None:
        return f"case {doc.case_id} is not closed; its documents are retained"
    if state.retention_days is None:
        return f"case {doc.case_id} has no retention period; its documents are kept"
    now = session.scalar(select(func.now()))
    until = state.closed_at + timedelta(days=state.retention_days)
    if now < until:
        return f"the retention period of case {doc.case_id} runs until {until.isoformat()}"
    return None


def remove(session: Session, events: EventWriter, doc: Document, who: str | None, reason: str) -> dict:
    """Delete one document row, leave its tombstone and emit ``document_removed``."""
    stone = Tombstone(
        document_id=doc.id,
        case_id=doc.case_id,
        group_id=doc.group_id,
        version=doc.version,
        filename=doc.filename,
        sha256=doc.sha256,
        size=doc.size,
        deleted_by=who,
        reason=reason,
    )
    session.add(stone)
    session.delete(doc)
    session.flush()
    deleted_at = session.scalar(select(Tombstone.deleted_at).where(Tombstone.document_id == doc.id))
    data = {
        "document_id": doc.id,
        "case_id": doc.case_id,
        "group_id": doc.group_id,
        "version": doc.version,
        "filename": doc.filename,
        "sha256": doc.sha256,
        "size": doc.size,
        "deleted_by": who,
        "deleted_at": deleted_at.isoformat() if deleted_at else None,
        "reason": reason,
    }
    events.emit(session, ev.DOCUMENT_REMOVED, data, case_id=doc.case_id)
    return data


def delete_document(
    *, session: Session, principal: Principal, events: EventWriter, document_id: str, reason: str | None
) -> list[dict]:
    """Delete every version of a document whose retention has passed and that nobody holds."""
    require_roles(principal, ROLE_SUPERVISOR, ROLE_ADMIN, action="delete documents")
    why = _reason(reason)
    doc = get_document(session=session, principal=principal, document_id=document_id)
    session.execute(select(CaseState).where(CaseState.case_id == doc.case_id).with_for_update())
    versions = list(
        session.scalars(select(Document).where(Document.group_id == doc.group_id).with_for_update())
    )
    for version in versions:
        blocked = deletable(session, version)
        if blocked:
            raise Conflict(blocked)
    return [remove(session, events, v, principal.user_id, why) for v in versions]


def dispose_expired(*, session: Session, events: EventWriter, limit: int = DISPOSE_BATCH) -> list[dict]:
    """The retention job: delete documents of closed cases past retention and not held."""
    now = session.scalar(select(func.now()))
    due = (
        select(Document)
        .join(CaseState, CaseState.case_id == Document.case_id)
        .where(
            CaseState.status == "closed",
            CaseState.legal_hold.is_(False),
            CaseState.retention_days.is_not(None),
            Document.legal_hold.is_(False),
            CaseState.closed_at + func.make_interval(0, 0, 0, CaseState.retention_days) <= now,
        )
        .order_by(Document.created_at)
        .limit(limit)
        .with_for_update(of=Document, skip_locked=True)
    )
    removed = []
    for doc in session.scalars(due):
        removed.append(remove(session, events, doc, "system:retention", "retention period ended"))
    return removed


def referenced(session: Session, sha256: str) -> bool:
    return session.scalar(select(func.count()).where(Document.sha256 == sha256)) > 0


def sweep(
    *, session: Session, store: BlobStore, grace_seconds: int, upload_ttl_seconds: int
) -> dict[str, int]:
    """Abort stale uploads, drop staged bytes with no open upload, remove unreferenced blobs."""
    now = session.scalar(select(func.now()))
    stale = list(
        session.scalars(
            select(Upload)
            .where(Upload.state == "open", Upload.created_at < now - timedelta(seconds=upload_ttl_seconds))
            .with_for_update(skip_locked=True)
        )
    )
    for upload in stale:
        upload.state = "aborted"
        store.stage_discard(upload.id)
    session.commit()
    cutoff = now - timedelta(seconds=grace_seconds)
    open_ids = set(session.scalars(select(Upload.id).where(Upload.state == "open")))
    staged = 0
    for upload_id, modified in list(store.staged()):
        if upload_id not in open_ids and modified < cutoff:
            store.stage_discard(upload_id)
            staged += 1
    known = set(session.scalars(select(Document.sha256).distinct()))
    session.commit()
    blobs = 0
    for sha, modified in list(store.blobs()):
        if sha in known or modified >= cutoff:
            continue
        try:
            lock_blob(session, sha)
            if not referenced(session, sha):
                store.delete(sha)
                blobs += 1
        except BlobMissing:
            pass
        finally:
            session.commit()
    if stale or staged or blobs:
        log.info("sweep", extra={"uploads": len(stale), "staged": staged, "blobs": blobs})
    return {"uploads_aborted": len(stale), "staged_removed": staged, "blobs_removed": blobs}


def purge_unreferenced(session: Session, store: BlobStore, shas: set[str]) -> int:
    """After a deletion commits: remove the bytes nothing points at any more."""
    removed = 0
    for sha in shas:
        try:
            lock_blob(session, sha)
            if not referenced(session, sha):
                store.delete(sha)
                removed += 1
        finally:
            session.commit()
    return removed


def holds_for(session: Session, case_id: str) -> list[dict]:
    rows = session.scalars(select(Hold).where(Hold.case_id == case_id).order_by(Hold.placed_at))
    return [
        {
            "id": h.id,
            "target": h.target,
            "target_id": h.target_id,
            "reason": h.reason,
            "placed_by": h.placed_by,
            "placed_at": h.placed_at.isoformat() if h.placed_at else None,
            "released_by": h.released_by,
            "released_at": h.released_at.isoformat() if h.released_at else None,
            "release_reason": h.release_reason,
        }
        for h in rows
    ]
