"""Transport for the documents service."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import text

from casekit.context import Principal, PrincipalProvider
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED, InvalidInput
from casekit.messaging import event_handler
from casekit.outbox import EventWriter, Outbox, first_delivery
from services.documents import logic
from services.documents.dependencies import BlobStorage, Limits
from services.documents.models import Document, outbox, processed_events
from services.documents.storage import BlobStore

READ_CHUNK_MAX = 4 * 1024 * 1024


class DocumentsService:
    name = "documents"

    db = Database(migrations=Path(__file__).parent / "migrations")
    store: BlobStore = BlobStorage()
    max_bytes: int = Limits()
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    @rpc(expected_exceptions=EXPECTED)
    def begin_upload(
        self,
        case_id: str,
        filename: str | None = None,
        declared_type: str | None = None,
        kind: str = "other",
        channel: str = "web",
    ) -> dict[str, Any]:
        upload = logic.begin_upload(
            session=self.db,
            principal=self.principal,
            case_id=case_id,
            filename=filename,
            declared_type=declared_type,
            kind=kind,
            channel=channel,
        )
        self.db.commit()
        return {"upload_id": upload.id, "max_bytes": self.max_bytes, "max_part": logic.MAX_PART}

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
                max_bytes=self.max_bytes,
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

    @rpc(expected_exceptions=EXPECTED)
    def get_document(self, document_id: str) -> dict[str, Any]:
        return logic.document_out(
            logic.get_document(session=self.db, principal=self.principal, document_id=document_id)
        )

    @rpc(expected_exceptions=EXPECTED)
    def list_for_case(self, case_id: str) -> list[dict[str, Any]]:
        docs = logic.list_for_case(session=self.db, principal=self.principal, case_id=case_id)
        return [logic.document_out(d) for d in docs]

    @rpc(expected_exceptions=EXPECTED)
    def read_chunk(self, document_id: str, offset: int, length: int) -> str:
        doc = logic.get_document(session=self.db, principal=self.principal, document_id=document_id)
        length = max(0, min(length, READ_CHUNK_MAX, doc.size - offset))
        return base64.b64encode(b"".join(self.store.read(doc.sha256, offset, length))).decode()

    @event_handler("documents", ev.DOCUMENT_ADDED)
    def handle_document_added(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        if not first_delivery(self.db, processed_events, "documents.extract", event["id"]):
            self.db.rollback()
            return
        doc = self.db.get(Document, event["data"]["id"], with_for_update=True)
        if doc is None:
            self.db.commit()
            return
        status, body = logic.extract_text(store=self.store, doc=doc)
        doc.text_status = status
        if status == "extracted":
            self.events.emit(
                self.db,
                ev.DOCUMENT_TEXT_EXTRACTED,
                {"document_id": doc.id, "filename": doc.filename, "text": body},
                case_id=doc.case_id,
            )
        self.db.commit()
