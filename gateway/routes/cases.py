"""Cases: open, list, read the folder (fan-out), change fields and stage, close, reopen, audit.

Every change names the version it expects in ``If-Match`` (the ETag of the case): 428 without
it, 412 when the case has moved on. Responses to changes carry the new ETag.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from casekit.contracts.cases import CaseCreate, CaseUpdate, CloseIn, ReopenIn, TransitionIn
from casekit.errors import NotFound
from gateway.clients import Call
from gateway.deps import BEARER, call, ctx, principal
from gateway.errors import HttpProblem
from gateway.schemas import (
    AuditVerification,
    CaseCreated,
    CaseFolder,
    CaseList,
    CaseListQuery,
    CaseOut,
    CasePath,
    IdempotencyHeader,
    IfMatchHeader,
    Problem,
    Timeline,
    TimelineQuery,
)

bp = APIBlueprint(
    "cases",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="cases")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)

WRITERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
CHANGE_RESPONSES: dict[int, Any] = {404: Problem, 409: Problem, 412: Problem, 422: Problem, 428: Problem}
ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def with_etag(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    version = body["case"]["version"] if "case" in body else body["version"]
    response.headers["ETag"] = f'"{version}"'
    return response


def expected_version(header: IfMatchHeader) -> int:
    """The version named by ``If-Match``: 428 when missing, 412 when it cannot be a version."""
    if not header.if_match or header.if_match.strip() == "*":
        raise HttpProblem(
            428, "PRECONDITION_REQUIRED", "Precondition required", "send If-Match with the case's ETag"
        )
    match = ETAG.match(header.if_match.strip())
    if match is None:
        raise HttpProblem(
            412, "STALE_VERSION", "Precondition failed", "If-Match names no version of the case"
        )
    return int(match.group(1))


def change(method: str, case_id: str, header: IfMatchHeader, *args: Any) -> Response:
    """Call a cases change with the version from ``If-Match``; answer with the new ETag."""
    principal(*WRITERS)
    version = expected_version(header)
    return with_etag(call("cases", method, case_id, version, *args))


@bp.post("/cases", responses={201: CaseCreated, 200: CaseCreated, 422: Problem})
def create_case(body: CaseCreate, header: IdempotencyHeader):
    """Open a case. With an ``Idempotency-Key``, a retry returns the case it opened (200)."""
    principal(*WRITERS)
    case = call("cases", "create_case", body.model_dump(mode="json"), header.idempotency_key)
    response = with_etag(case, 201 if case["created"] else 200)
    response.headers["Location"] = f"/api/v1/cases/{case['id']}"
    return response


@bp.get("/cases", responses={200: CaseList, 422: Problem})
def list_cases(query: CaseListQuery):
    """List the cases the caller may see: filter by status, type, stage, priority, team or party;
    sort by created (default), priority, due, age or updated; page with ``next_cursor``."""
    return call("cases", "list_cases", **query.model_dump())


@bp.get("/cases/<case_id>", responses={200: CaseFolder, 404: Problem})
def get_case(path: CasePath):
    """The case folder: the case, its documents and its work item, fetched in parallel.

    Parts that are slow or down are listed in ``missing`` instead of failing the call. The read
    is recorded in the case's audit trail.
    """
    who = principal()
    case, documents, work_item = ctx().rpc.fanout(
        who,
        [
            Call("cases", "get_case", (path.case_id,)),
            Call("documents", "list_for_case", (path.case_id,)),
            Call("routing", "get_work_item", (path.case_id,)),
        ],
    )
    folder = case.unwrap()
    missing = []
    folder["documents"] = documents.value if documents.error is None else None
    if documents.error is not None:
        missing.append("documents")
    folder["work_item"] = work_item.value if work_item.error is None else None
    if work_item.error is not None and not isinstance(work_item.error, NotFound):
        missing.append("work_item")
    folder["missing"] = missing
    return with_etag(folder)


@bp.patch("/cases/<case_id>", responses={200: CaseOut, **CHANGE_RESPONSES})
def update_case(path: CasePath, body: CaseUpdate, header: IfMatchHeader):
    """Change title, description, priority, custom data (validated against the case's type
    version), or, for supervisors, team and restriction."""
    return change("update_case", path.case_id, header, body.model_dump(mode="json", exclude_unset=True))


@bp.post("/cases/<case_id>/transitions", responses={200: CaseOut, **CHANGE_RESPONSES})
def transition_case(path: CasePath, body: TransitionIn, header: IfMatchHeader):
    """Move the case to another stage. Agents take the transitions the type defines for their
    role; supervisors may jump or reverse, or leave required checklist items open, only with a
    ``reason`` (audited)."""
    return change("transition_case", path.case_id, header, body.model_dump(mode="json"))


@bp.post("/cases/<case_id>/close", responses={200: CaseOut, **CHANGE_RESPONSES})
def close_case(path: CasePath, body: CloseIn, header: IfMatchHeader):
    """Close the case with one of its type's resolution codes."""
    return change("close_case", path.case_id, header, body.model_dump(mode="json"))


@bp.post("/cases/<case_id>/reopen", responses={200: CaseOut, **CHANGE_RESPONSES})
def reopen_case(path: CasePath, body: ReopenIn, header: IfMatchHeader):
    """Reopen a closed case; the reason is required and audited."""
    return change("reopen_case", path.case_id, header, body.model_dump(mode="json"))


@bp.get("/cases/<case_id>/timeline", responses={200: Timeline, 404: Problem, 422: Problem})
def timeline(path: CasePath, query: TimelineQuery):
    """Everything that happened to the case, in order: changes, stages, notes, tasks, parties,
    links and inbound items (reads are in the audit trail, not here)."""
    return call("cases", "timeline", path.case_id, after=query.after, limit=query.limit)


@bp.get("/cases/<case_id>/audit", responses={200: {"type": "array"}, 404: Problem})
def audit_trail(path: CasePath):
    """The case's hash-chained audit trail, oldest first (reads included)."""
    return jsonify(call("cases", "audit_trail", path.case_id))


@bp.get("/cases/<case_id>/audit/verify", responses={200: AuditVerification, 404: Problem})
def verify_audit(path: CasePath):
    """Recompute the audit chain and name the first entry that does not hold."""
    return call("cases", "verify_audit", path.case_id)
