"""Transport for the documents service: RPC and event entrypoints that call plain functions."""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any

from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from casekit.context import ROLE_ADMIN, ROLE_SYSTEM, Principal, PrincipalProvider, require_roles
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED, Conflict, InvalidInput
from casekit.messaging import event_handler
from casekit.outbox import EventWriter, Outbox, first_delivery
from casekit.rpc import rpc
from services.documents import extraction, logic, retention
from services.documents.dependencies import BlobStorage, Limits, Settings
from services.documents.models import Document, outbox, processed_events
from services.documents.storage import BlobStore

log = logging.getLogger(__name__)

READ_CHUNK_MAX = 4 * 1024 * 1024
CASE_MERGED = "case_merged"  # casekit.contracts.events.CASE_MERGED
SWEEP_EVERY = 600.0
DISPOSE_EVERY = 3600.0


class DocumentsService:
    name = "documents"

    db = Database(migrations=Path(__file__).parent / "migrations")
    store: BlobStore = BlobStorage()
    settings: Settings = Limits()
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    # --- uploads ------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def begin_upload(
        self,
        case_id: str,
        filename: str | None = None,
        declared_type: str | None = None,
        kind: str = "other",
        channel: str = "web",
        tags: list[str] | None = None,
        version_of: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Start an upload. With a key already finished, ``document`` holds what it created."""
        upload = logic.begin_upload(
            session=self.db,
            principal=self.principal,
            case_id=case_id,
            filename=filename,
            declared_type=declared_type,
            kind=kind,
            channel=channel,
            tags=tags,
            version_of=version_of,
            idempotency_key=idempotency_key,
        )
        if upload.state == "finished":
            doc = logic.get_document(
                session=self.db, principal=self.principal, document_id=upload.document_id
            )
            self.db.rollback()
            return {"upload_id": upload.id, "document": logic.document_out(doc)}
        try:
            self.db.commit()
        except IntegrityError:
            self.db.rollback()
            raise Conflict("an upload with this Idempotency-Key is in progress") from None
        return {"upload_id": upload.id, "max_bytes": self.settings.max_bytes, "max_part": logic.MAX_PART}

    @rpc(expected_exceptions=EXPECTED)
    def begin_direct_upload(
        self,
        case_id: str,
        filename: str | None = None,
        declared_type: str | None = None,
        kind: str = "other",
        channel: str = "web",
        tags: list[str] | None = None,
        version_of: str | None = None,
    ) -> dict[str, Any]:
        """A presigned PUT URL straight to the store (S3 only); then ``finish_upload``."""
        upload = logic.begin_upload(
            session=self.db,
            principal=self.principal,
            case_id=case_id,
            filename=filename,
            declared_type=declared_type,
            kind=kind,
            channel=channel,
            tags=tags,
            version_of=version_of,
            direct=True,
        )
        seconds = self.settings.presign_seconds
        url = self.store.presign_put(upload.id, seconds=seconds)
        if url is None:
            self.db.rollback()
            raise Conflict("direct uploads need the S3 backend; stream the file through the gateway")
        self.db.commit()
        return {
            "upload_id": upload.id,
            "url": url,
            "expires_in": seconds,
            "max_bytes": self.settings.max_bytes,
        }

    @rpc(expected_exceptions=EXPECTED)
    def upload_part(self, upload_id: str, index: int, data: str) -> dict[str, Any]:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput.from_field("data", "is not base64") from None
        try:
            upload = logic.append_part(
                session=self.db,
                store=self.store,
                principal=self.principal,
                upload_id=upload_id,
                index=index,
                data=raw,
                max_bytes=self.settings.max_bytes,
            )
        finally:
            self.db.commit()
        return {"upload_id": upload.id, "parts": upload.parts, "size": upload.size}

    @rpc(expected_exceptions=EXPECTED)
    def finish_upload(self, upload_id: str) -> dict[str, Any]:
        try:
            doc = logic.finish_upload(
                session=self.db,
                store=self.store,
                principal=self.principal,
                upload_id=upload_id,
                events=self.events,
                max_bytes=self.settings.max_bytes,
            )
        except InvalidInput:
            self.db.commit()  # keep the upload marked aborted
            raise
        self.db.commit()
        return logic.document_out(doc)

    @rpc(expected_exceptions=EXPECTED)
    def abort_upload(self, upload_id: str) -> dict[str, Any]:
        logic.abort_upload(session=self.db, store=self.store, principal=self.principal, upload_id=upload_id)
        self.db.commit()
        return {"upload_id": upload_id, "state": "aborted"}

    # --- reads --------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_document(self, document_id: str) -> dict[str, Any]:
        return logic.document_out(
            logic.get_document(session=self.db, principal=self.principal, document_id=document_id)
        )

    @rpc(expected_exceptions=EXPECTED)
    def list_for_case(self, case_id: str, all_versions: bool = False) -> list[dict[str, Any]]:
        docs = logic.list_for_case(
            session=self.db, principal=self.principal, case_id=case_id, all_versions=all_versions
        )
        return [logic.document_out(d) for d in docs]

    @rpc(expected_exceptions=EXPECTED)
    def list_versions(self, document_id: str) -> list[dict[str, Any]]:
        docs = logic.list_versions(session=self.db, principal=self.principal, document_id=document_id)
        return [logic.document_out(d) for d in docs]

    @rpc(expected_exceptions=EXPECTED)
    def read_chunk(self, document_id: str, offset: int, length: int) -> str:
        doc = logic.get_document(session=self.db, principal=self.principal, document_id=document_id)
        length = max(0, min(length, READ_CHUNK_MAX, doc.size - offset))
        return base64.b64encode(b"".join(self.store.read(doc.sha256, offset, length))).decode()

    @rpc(expected_exceptions=EXPECTED)
    def download_url(self, document_id: str) -> dict[str, Any]:
        """A short-lived presigned GET URL on S3; ``url`` is None on the local store."""
        doc = logic.get_document(session=self.db, principal=self.principal, document_id=document_id)
        seconds = self.settings.presign_seconds
        url = self.store.presign_get(
            doc.sha256, filename=doc.filename, media_type=doc.media_type, seconds=seconds
        )
        return {"url": url, "expires_in": seconds if url else None}

    # --- retention, legal hold, deletion ------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def set_legal_hold(self, target: str, target_id: str, on: bool, reason: str | None = None) -> dict:
        result = retention.set_hold(
            session=self.db,
            principal=self.principal,
            target=target,
            target_id=target_id,
            on=on,
            reason=reason,
        )
        self.db.commit()
        return result

    @rpc(expected_exceptions=EXPECTED)
    def list_holds(self, case_id: str) -> list[dict[str, Any]]:
        logic.require_reader(self.principal)
        logic.check_case_visible(self.db, self.principal, case_id)
        return retention.holds_for(self.db, case_id)

    @rpc(expected_exceptions=EXPECTED)
    def delete_document(self, document_id: str, reason: str | None = None) -> dict[str, Any]:
        removed = retention.delete_document(
            session=self.db,
            principal=self.principal,
            events=self.events,
            document_id=document_id,
            reason=reason,
        )
        self.db.commit()
        retention.purge_unreferenced(self.db, self.store, {r["sha256"] for r in removed})
        return {"removed": removed}

    @rpc(expected_exceptions=EXPECTED)
    def dispose_expired(self) -> dict[str, Any]:
        require_roles(self.principal, ROLE_ADMIN, ROLE_SYSTEM, action="run the retention job")
        return self._dispose()

    @rpc(expected_exceptions=EXPECTED)
    def sweep(
        self, grace_seconds: int | None = None, upload_ttl_seconds: int | None = None
    ) -> dict[str, int]:
        """Abort stale uploads and remove bytes nothing points at (older than the grace period)."""
        require_roles(self.principal, ROLE_ADMIN, ROLE_SYSTEM, action="run the sweep")
        grace = self.settings.sweep_grace if grace_seconds is None else max(0, int(grace_seconds))
        ttl = self.settings.upload_ttl if upload_ttl_seconds is None else max(0, int(upload_ttl_seconds))
        return retention.sweep(session=self.db, store=self.store, grace_seconds=grace, upload_ttl_seconds=ttl)

    @timer(interval=DISPOSE_EVERY)
    def dispose_timer(self) -> None:
        self._dispose()

    @timer(interval=SWEEP_EVERY)
    def sweep_timer(self) -> None:
        retention.sweep(
            session=self.db,
            store=self.store,
            grace_seconds=self.settings.sweep_grace,
            upload_ttl_seconds=self.settings.upload_ttl,
        )

    def _dispose(self) -> dict[str, Any]:
        removed = retention.dispose_expired(session=self.db, events=self.events)
        self.db.commit()
        retention.purge_unreferenced(self.db, self.store, {r["sha256"] for r in removed})
        return {"removed": len(removed)}

    # --- events -------------------------------------------------------------------------------

    @event_handler("documents", ev.DOCUMENT_ADDED)
    def handle_document_added(self, event: dict[str, Any]) -> None:
        """Extract text outside any transaction, then record the outcome once."""
        event = check_envelope(event)
        doc = self.db.get(Document, event["data"]["id"])
        if doc is not None:
            self.db.expunge(doc)  # keep its fields; no transaction stays open while extracting
        self.db.rollback()
        if doc is None:
            return
        with extraction.work_dir() as work:
            outcome = extraction.extract_blob(self.store, doc, self.settings.extraction, Path(work))
            if not first_delivery(self.db, processed_events, "documents.extract", event["id"]):
                self.db.rollback()
                return
            doc = self.db.get(Document, doc.id, with_for_update=True)
            if doc is None:  # deleted meanwhile
                self.db.commit()
                return
            extraction.store_attachments(
                self.db, self.store, self.events, doc, outcome, self.settings.max_bytes
            )
            extraction.record(self.db, self.events, doc, outcome)
            self.db.commit()

    def _case_event(self, event: dict[str, Any], consumer: str) -> None:
        event = check_envelope(event)
        if not first_delivery(self.db, processed_events, consumer, event["id"]):
            self.db.rollback()
            return
        retention.apply_case_event(self.db, event)
        self.db.commit()

    @event_handler("cases", ev.CASE_OPENED)
    def handle_case_opened(self, event: dict[str, Any]) -> None:
        self._case_event(event, "documents.case_opened")

    @event_handler("cases", ev.CASE_UPDATED)
    def handle_case_updated(self, event: dict[str, Any]) -> None:
        self._case_event(event, "documents.case_updated")

    @event_handler("cases", ev.CASE_CLOSED)
    def handle_case_closed(self, event: dict[str, Any]) -> None:
        self._case_event(event, "documents.case_closed")

    @event_handler("cases", CASE_MERGED)
    def handle_case_merged(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if not first_delivery(self.db, processed_events, "documents.case_merged", event["id"]):
            self.db.rollback()
            return
        retention.apply_case_event(self.db, event)
        retention.apply_merge(self.db, event)
        self.db.commit()

    @event_handler("cases", ev.CASE_REOPENED)
    def handle_case_reopened(self, event: dict[str, Any]) -> None:
        self._case_event(event, "documents.case_reopened")
