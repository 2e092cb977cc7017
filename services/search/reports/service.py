"""Transport for reports: the ``reports`` nameko service, run in the search process.

It consumes the same cases and routing events as the search index, on queues of its own (a
slow or failing report never holds up the index, nor the index the reports), and keeps its read
model in the search service's PostgreSQL database (``SEARCH_DB_URL``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AUDITOR,
    ROLE_SUPERVISOR,
    Principal,
    PrincipalProvider,
    require_roles,
)
from casekit.contracts import events as ev
from casekit.contracts.events import check_envelope
from casekit.db import Database
from casekit.errors import EXPECTED, InvalidInput, NotFound
from casekit.messaging import event_handler
from casekit.rpc import rpc
from services.search.reports import charts, ingest, mining
from services.search.reports.queries import REPORTS
from services.search.reports.scope import ScopeError, parse_scope

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
READERS = (ROLE_SUPERVISOR, ROLE_ADMIN, ROLE_AUDITOR)


def _subscribe(source: str, types: tuple[str, ...]) -> Any:
    def decorate(fn: Any) -> Any:
        for event_type in types:
            fn = event_handler(source, event_type)(fn)
        return fn

    return decorate


def compute_report(session: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
    report = REPORTS.get(name)
    if report is None:
        raise NotFound(f"no report called {name!r}; there are {', '.join(REPORTS)}")
    scope = _scope(params, report.groups)
    return {
        "name": name,
        "title": report.title,
        "chart": report.chart,
        **scope.as_dict(),
        **report.fn(session, scope),
    }


def compute_view(session: Any, view: str, params: dict[str, Any]) -> dict[str, Any]:
    found = mining.VIEWS.get(view)
    if found is None:
        raise NotFound(f"no process view called {view!r}; there are {', '.join(mining.VIEWS)}")
    fn, title = found
    scope = _scope(params, ())
    return {"name": view, "title": title, **scope.as_dict(), **fn(session, scope)}


def _scope(params: dict[str, Any], groups: tuple[str, ...]) -> Any:
    if not isinstance(params, dict):
        raise InvalidInput.from_field("params", "must be an object")
    try:
        return parse_scope(params, groups=groups)
    except ScopeError as exc:
        raise InvalidInput.from_field(exc.field, str(exc)) from None


class ReportsService:
    name = "reports"

    db = Database(migrations=MIGRATIONS)
    principal: Principal = PrincipalProvider()

    def _apply(self, event: dict[str, Any]) -> None:
        event = check_envelope(event)
        try:
            ingest.apply(self.db, event)
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    @_subscribe("cases", ev.PRODUCERS["cases"])
    def handle_case_event(self, event: dict[str, Any]) -> None:
        self._apply(event)

    @_subscribe("routing", ev.PRODUCERS["routing"])
    def handle_routing_event(self, event: dict[str, Any]) -> None:
        self._apply(event)

    @rpc
    def health(self) -> dict[str, Any]:
        return {"service": self.name, "ok": True}

    @rpc(expected_exceptions=EXPECTED)
    def report(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One standard report (see ``queries.REPORTS``) over ``params``: from/to/last, filters, by."""
        require_roles(self.principal, *READERS, action="read reports")
        return compute_report(self.db, name, params or {})

    @rpc(expected_exceptions=EXPECTED)
    def report_csv(self, name: str, params: dict[str, Any] | None = None) -> str:
        require_roles(self.principal, *READERS, action="read reports")
        return charts.to_csv(compute_report(self.db, name, params or {}))

    @rpc(expected_exceptions=EXPECTED)
    def report_chart(self, name: str, params: dict[str, Any] | None = None) -> str:
        require_roles(self.principal, *READERS, action="read reports")
        result = compute_report(self.db, name, params or {})
        return charts.chart_svg(result, result["title"], result["chart"]).decode()

    @rpc(expected_exceptions=EXPECTED)
    def process(self, view: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One process view (``mining.VIEWS``): stages, dfg, variants, rework, bottlenecks."""
        require_roles(self.principal, *READERS, action="read process insight")
        return compute_view(self.db, view, params or {})

    @rpc(expected_exceptions=EXPECTED)
    def process_csv(self, view: str, params: dict[str, Any] | None = None) -> str:
        require_roles(self.principal, *READERS, action="read process insight")
        return charts.to_csv(compute_view(self.db, view, params or {}))

    @rpc(expected_exceptions=EXPECTED)
    def process_graph(self, params: dict[str, Any] | None = None) -> str:
        require_roles(self.principal, *READERS, action="read process insight")
        result = compute_view(self.db, "dfg", params or {})
        return charts.graph_svg(result, f"Process ({result['totals']['level']}s)").decode()

    @rpc(expected_exceptions=EXPECTED)
    def status(self) -> dict[str, Any]:
        require_roles(self.principal, *READERS, action="read the reports status")
        return ingest.counts(self.db)
