"""Cases: open, list, read the folder (fan-out), audit trail."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from casekit.contracts.cases import CaseCreate
from casekit.errors import NotFound
from gateway.clients import Call
from gateway.deps import BEARER, call, ctx, principal
from gateway.schemas import (
    AuditVerification,
    CaseCreated,
    CaseFolder,
    CaseList,
    CaseListQuery,
    CasePath,
    IdempotencyHeader,
    Problem,
)

bp = APIBlueprint(
    "cases",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="cases")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)


def with_etag(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = f'"{body["version"]}"'
    return response


@bp.post("/cases", responses={201: CaseCreated, 200: CaseCreated, 422: Problem})
def create_case(body: CaseCreate, header: IdempotencyHeader):
    """Open a case. With an ``Idempotency-Key``, a retry returns the case it opened (200)."""
    principal(ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
    case = call("cases", "create_case", body.model_dump(mode="json"), header.idempotency_key)
    response = with_etag(case, 201 if case["created"] else 200)
    response.headers["Location"] = f"/api/v1/cases/{case['id']}"
    return response


@bp.get("/cases", responses={200: CaseList, 422: Problem})
def list_cases(query: CaseListQuery):
    """List cases, newest first, with cursor pagination."""
    return call(
        "cases", "list_cases", status=query.status, type=query.type, limit=query.limit, cursor=query.cursor
    )


@bp.get("/cases/<case_id>", responses={200: CaseFolder, 404: Problem})
def get_case(path: CasePath):
    """The case folder: the case, its documents and its work item, fetched in parallel.

    Parts that are slow or down are listed in ``missing`` instead of failing the call.
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


@bp.get("/cases/<case_id>/audit", responses={200: {"type": "array"}, 404: Problem})
def audit_trail(path: CasePath):
    """The case's hash-chained audit trail, oldest first."""
    return jsonify(call("cases", "audit_trail", path.case_id))


@bp.get("/cases/<case_id>/audit/verify", responses={200: AuditVerification, 404: Problem})
def verify_audit(path: CasePath):
    """Recompute the audit chain and name the first entry that does not hold."""
    return call("cases", "verify_audit", path.case_id)
