"""Documents: legal holds, deletion under retention rules, presigned transfers (S3)."""

from __future__ import annotations

from flask import jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.routes.documents import visible_document
from gateway.schemas import CasePath, DocumentPath, Problem

bp = APIBlueprint(
    "document_admin",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="documents")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool
    reason: str = Field(min_length=3, max_length=1000)


class HoldOut(BaseModel):
    target: str
    id: str
    case_id: str
    legal_hold: bool


class DeleteQuery(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)


class DownloadUrl(BaseModel):
    url: str | None = Field(description="null on the local store: download through /content")
    expires_in: int | None
    content: str


class DirectUploadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str | None = Field(default=None, max_length=1024)
    kind: str = Field(default="other", max_length=32)
    channel: str = Field(default="web", max_length=32)
    tags: list[str] | None = Field(default=None, max_length=20)


class DirectUploadOut(BaseModel):
    upload_id: str
    url: str
    expires_in: int
    max_bytes: int


class UploadPath(BaseModel):
    upload_id: str = Field(max_length=64)


@bp.post("/cases/<case_id>/legal-hold", responses={200: HoldOut})
def case_hold(path: CasePath, body: HoldBody):
    """Place (``on: true``) or release a legal hold on every document of a case (supervisors, admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    call("cases", "get_case", path.case_id)
    return call("documents", "set_legal_hold", "case", path.case_id, body.on, body.reason)


@bp.post("/documents/<document_id>/legal-hold", responses={200: HoldOut})
def document_hold(path: DocumentPath, body: HoldBody):
    """Place or release a legal hold on a document and all its versions (supervisors, admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    visible_document(path.document_id)
    return call("documents", "set_legal_hold", "document", path.document_id, body.on, body.reason)


@bp.get("/cases/<case_id>/legal-holds", responses={200: {"type": "array"}})
def case_holds(path: CasePath):
    """Every legal hold placed on the case or its documents: who, when, why, and its release."""
    call("cases", "get_case", path.case_id)
    return jsonify(call("documents", "list_holds", path.case_id))


@bp.delete("/documents/<document_id>", responses={200: {"type": "object"}, 409: Problem})
def delete_document(path: DocumentPath, query: DeleteQuery):
    """Delete a document (every version) once its case's retention has passed; 409 while held.

    No ``If-Match``: a document's versions never change once stored (a new upload is a new
    version), so a delete cannot overwrite anyone's change; holds and retention guard it."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    visible_document(path.document_id)
    return call("documents", "delete_document", path.document_id, query.reason)


@bp.get("/documents/<document_id>/download-url", responses={200: DownloadUrl})
def download_url(path: DocumentPath):
    """A short-lived presigned URL on S3, so big files skip the gateway."""
    visible_document(path.document_id)
    ticket = call("documents", "download_url", path.document_id)
    return {**ticket, "content": f"/api/v1/documents/{path.document_id}/content"}


@bp.post("/cases/<case_id>/direct-uploads", responses={201: DirectUploadOut, 409: Problem})
def direct_upload(path: CasePath, body: DirectUploadBody):
    """A presigned PUT URL for a big file (S3 only); then ``POST /uploads/{id}/finish``."""
    principal(ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
    call("cases", "get_case", path.case_id)
    begun = call(
        "documents",
        "begin_direct_upload",
        path.case_id,
        body.filename,
        None,
        body.kind,
        body.channel,
        body.tags,
    )
    response = jsonify(begun)
    response.status_code = 201
    return response


@bp.post("/uploads/<upload_id>/finish", responses={201: {"type": "object"}, 409: Problem})
def finish_upload(path: UploadPath):
    """Finish an upload whose bytes went straight to the store."""
    principal(ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
    document = call("documents", "finish_upload", path.upload_id)
    response = jsonify(document)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/documents/{document['id']}"
    return response
