"""Reports and process insight (supervisors, admins, auditors): JSON, CSV and SVG.

``GET /reports/{name}`` and ``GET /process/{view}`` answer JSON, or CSV with ``Accept: text/csv``
or a ``.csv`` suffix; ``/reports/{name}/chart.svg`` and ``/process/graph.svg`` are pictures.
"""

from __future__ import annotations

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AUDITOR, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.schemas import Problem
from gateway.schemas.reports import (
    REPORT_NAMES,
    VIEW_NAMES,
    ReportCatalog,
    ReportPath,
    ReportQuery,
    ReportTable,
    ViewPath,
)

READERS = (ROLE_SUPERVISOR, ROLE_ADMIN, ROLE_AUDITOR)

bp = APIBlueprint(
    "reports",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="reports")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)


def _wants_csv(name: str) -> tuple[str, bool]:
    if name.endswith(".csv"):
        return name.removesuffix(".csv"), True
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return name, best == "text/csv"


def _csv(body: str, name: str) -> Response:
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


def _svg(body: str) -> Response:
    return Response(body, mimetype="image/svg+xml")


@bp.get("/reports", responses={200: ReportCatalog})
def catalog():
    """The reports and process views there are."""
    principal(*READERS)
    return {"reports": list(REPORT_NAMES), "process": list(VIEW_NAMES)}


@bp.get("/reports/<string:name>", responses={200: ReportTable})
def report(path: ReportPath, query: ReportQuery):
    """One report over a period and filters: ``/reports/completed?last=5d`` is completed by resolution."""
    principal(*READERS)
    name, as_csv = _wants_csv(path.name)
    if as_csv:
        return _csv(call("reports", "report_csv", name, query.params()), name)
    return call("reports", "report", name, query.params())


@bp.get("/reports/<string:name>/chart.svg")
def report_chart(path: ReportPath, query: ReportQuery):
    """The report as a bar or line chart (SVG; titles and series names are text)."""
    principal(*READERS)
    return _svg(call("reports", "report_chart", path.name, query.params()))


@bp.get("/process/graph.svg")
def process_graph(query: ReportQuery):
    """The directly-follows graph drawn by graphviz: thickness by frequency, colour by mean wait."""
    principal(*READERS)
    return _svg(call("reports", "process_graph", query.params()))


@bp.get("/process/<string:view>")
def process_view(path: ViewPath, query: ReportQuery):
    """stages, dfg, variants, rework or bottlenecks over the cases opened in the period."""
    principal(*READERS)
    view, as_csv = _wants_csv(path.view)
    if as_csv:
        return _csv(call("reports", "process_csv", view, query.params()), view)
    return call("reports", "process", view, query.params())
