"""Transport for the search service."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from casekit.context import Principal, PrincipalProvider
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.errors import EXPECTED, InvalidInput, PermissionDenied
from casekit.messaging import event_handler
from services.search import mappings
from services.search.dependencies import GroupCommit, Index

MAX_QUERY = 500


class SearchService:
    name = "search"

    index: GroupCommit = Index()
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        return {"service": self.name, "ok": True, "cases": self.index.read("count", "case")}

    @event_handler("cases", ev.CASE_OPENED)
    def handle_case_opened(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        self.index.write("upsert", mappings.case_doc(event["data"]["case"], event["case_version"] or 1))

    @event_handler("documents", ev.DOCUMENT_TEXT_EXTRACTED)
    def handle_document_text_extracted(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        self.index.write("upsert", mappings.document_text_doc(event["data"], event["case_id"]))

    @rpc(expected_exceptions=EXPECTED)
    def search(self, q: str, limit: int = 20) -> dict[str, Any]:
        if not self.principal.authenticated:
            raise PermissionDenied("authentication required")
        if not isinstance(q, str) or not q.strip():
            raise InvalidInput.from_field("q", "must not be empty")
        if len(q) > MAX_QUERY:
            raise InvalidInput.from_field("q", f"must be at most {MAX_QUERY} characters")
        return self.index.read("search", q, limit)

    @rpc(expected_exceptions=EXPECTED)
    def index_entries(self, case_ids: list[str]) -> list[dict[str, Any]]:
        """Copies and versions of each case in the index (consistency checks and repair)."""
        if not self.principal.authenticated:
            raise PermissionDenied("authentication required")
        return [self.index.read("entry", case_id) for case_id in case_ids[:1000]]

    @rpc(expected_exceptions=EXPECTED)
    def indexed_version(self, case_id: str) -> int | None:
        if not self.principal.authenticated:
            raise PermissionDenied("authentication required")
        return self.index.read("indexed_version", case_id)
