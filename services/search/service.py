"""Transport for the search service: event handlers feed the index, RPCs read it (permission-trimmed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AUDITOR,
    Principal,
    PrincipalProvider,
    require_authenticated,
    require_roles,
)
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.errors import EXPECTED, InvalidInput
from casekit.messaging import event_handler
from casekit.rpc import rpc
from services.search import indexing, mappings
from services.search.dependencies import GroupCommit, Index
from services.search.queries import QueryError, build_request, visibility_for
from services.search.reports.service import ReportsService  # noqa: F401 - runs in this process too

MAX_QUERY = 500
DUPLICATE_SWEEP_EVERY = float(os.environ.get("SEARCH_DUPLICATE_SWEEP_SECONDS", "60"))
CASE_EVENTS = tuple(dict.fromkeys((*ev.PRODUCERS["cases"], mappings.NOTE_UPDATED)))
ROUTING_EVENTS = mappings.ROUTING_EVENTS
DOCUMENT_EVENTS = (ev.DOCUMENT_TEXT_EXTRACTED, ev.DOCUMENT_REMOVED)
LOOKUP_KINDS = ("reference", "email", "phone")


def _subscribe(source: str, types: tuple[str, ...]) -> Any:
    """Stack one event handler per type on the decorated method."""

    def decorate(fn: Any) -> Any:
        for event_type in types:
            fn = event_handler(source, event_type)(fn)
        return fn

    return decorate


class SearchService:
    name = "search"

    index: GroupCommit = Index()
    principal: Principal = PrincipalProvider()
    cases_rpc = RpcProxy("cases")

    def _index_event(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        self.index.lag.started(event)
        try:
            self.index.write("apply", event)
        except Exception:
            self.index.lag.abandoned(event)  # it will be redelivered
            raise
        self.index.lag.finished(event)

    @rpc
    def health(self) -> dict[str, Any]:
        return {"service": self.name, "ok": True, "cases": self.index.read("count", "case")}

    # -- events ---------------------------------------------------------------------------------
    @_subscribe("cases", CASE_EVENTS)
    def handle_case_event(self, event: dict[str, Any]) -> None:
        self._index_event(event)

    @_subscribe("routing", ROUTING_EVENTS)
    def handle_routing_event(self, event: dict[str, Any]) -> None:
        self._index_event(event)

    @_subscribe("documents", DOCUMENT_EVENTS)
    def handle_document_event(self, event: dict[str, Any]) -> None:
        self._index_event(event)

    @_subscribe("notifications", (ev.MESSAGE_RECEIVED,))
    def handle_message_event(self, event: dict[str, Any]) -> None:
        self._index_event(event)

    @timer(interval=DUPLICATE_SWEEP_EVERY)
    def duplicate_sweep(self) -> None:
        self.index.sweep()

    # -- queries --------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def search(
        self,
        q: str = "",
        limit: int = 20,
        sort: str = "relevance",
        cursor: str | None = None,
        facets: bool = False,
        filters: dict[str, Any] | None = None,
        ranges: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Cases matching ``q`` and the filters, trimmed to what the caller may see."""
        require_authenticated(self.principal)
        if not isinstance(q, str):
            raise InvalidInput.from_field("q", "must be a string")
        if len(q) > MAX_QUERY:
            raise InvalidInput.from_field("q", f"must be at most {MAX_QUERY} characters")
        try:
            request = build_request(
                q, limit=limit, sort=sort, cursor=cursor, facets=facets, filters=filters, ranges=ranges
            )
            return self.index.read("search", request, visibility_for(self.principal))
        except QueryError as exc:
            raise InvalidInput.from_field(exc.field, str(exc)) from None

    @rpc(expected_exceptions=EXPECTED)
    def suggest(self, prefix: str, limit: int = 8) -> dict[str, Any]:
        """Typeahead: words starting with ``prefix`` and the cases they lead to (trimmed)."""
        require_authenticated(self.principal)
        if not isinstance(prefix, str) or len(prefix) > 100:
            raise InvalidInput.from_field("prefix", "must be a string of at most 100 characters")
        limit = max(1, min(int(limit), 20))
        return self.index.read("suggest", prefix, visibility_for(self.principal), limit)

    @rpc(expected_exceptions=EXPECTED)
    def lookup(self, kind: str, value: str) -> list[dict[str, Any]]:
        """Instant lookup of the visible cases with this reference, party email or party phone."""
        require_authenticated(self.principal)
        if kind not in LOOKUP_KINDS:
            raise InvalidInput.from_field("kind", f"must be one of {', '.join(LOOKUP_KINDS)}")
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidInput.from_field(kind, "must be 1 to 200 characters")
        return self.index.read("lookup", kind, value, visibility_for(self.principal))

    # -- consistency ----------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def index_entries(self, case_ids: list[str]) -> list[dict[str, Any]]:
        """Copies and versions of each case in the index (consistency checks and benchmarks)."""
        require_authenticated(self.principal)
        return [self.index.read("entry", case_id) for case_id in case_ids[:1000]]

    @rpc(expected_exceptions=EXPECTED)
    def indexed_version(self, case_id: str) -> int | None:
        require_authenticated(self.principal)
        return self.index.read("indexed_version", case_id)

    @rpc(expected_exceptions=EXPECTED)
    def status(self) -> dict[str, Any]:
        """Engine, counts, lag (oldest unindexed event age) and the last rebuild."""
        require_roles(self.principal, ROLE_ADMIN, ROLE_AUDITOR, action="read the search status")
        indexer = self.index.index
        return {
            "engine": indexer.engine.name,
            "cases": self.index.read("count", "case"),
            "documents": self.index.read("count"),
            "lag": self.index.lag.report(queued=self.index.queued()),
            "rebuild": indexer.rebuild.as_dict(),
            "duplicates_collapsed": indexer.collapsed,
        }

    @rpc(expected_exceptions=EXPECTED)
    def reindex(self, batch: int = 500) -> dict[str, Any]:
        """Start a full rebuild beside the live index; poll ``status`` for progress."""
        require_roles(self.principal, ROLE_ADMIN, action="rebuild the search index")
        started = self.index.start_rebuild(max(10, min(int(batch), 5000)))
        return {"started": started, "rebuild": self.index.index.rebuild.as_dict()}

    @rpc(expected_exceptions=EXPECTED)
    def check_drift(self, repair: bool = False) -> dict[str, Any]:
        """Compare the index with the cases service; with ``repair`` fix what differs."""
        require_roles(self.principal, ROLE_ADMIN, action="check the search index")
        return indexing.check_drift(
            self.index.index, self._all_cases(), write=self.index.write if repair else None
        )

    def _all_cases(self) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self.cases_rpc.list_cases(limit=200, cursor=cursor)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
