"""Documents: streamed upload into a case folder, versions, listing, metadata, ranged download."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, ctx, principal
from gateway.errors import HttpProblem
from gateway.routes.document_stream import (
    MULTIPART_OVERHEAD,
    CountedStream,
    MultipartFile,
    chunks,
    invalid,
    too_large,
)
from gateway.schemas import CasePath, DocumentOut, DocumentPath, IdempotencyHeader, Problem

bp = APIBlueprint(
    "documents",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="documents")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 503: Problem},
)

DOWNLOAD_CHUNK = 1024 * 1024
log = logging.getLogger(__name__)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
WRITERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)


class DocumentUploadQuery(BaseModel):
    filename: str | None = Field(default=None, max_length=1024)
    kind: str = Field(default="other", max_length=32)
    channel: str = Field(default="web", max_length=32)
    tags: str | None = Field(default=None, max_length=1400, description="comma-separated tags")


class DocumentListQuery(BaseModel):
    all_versions: bool = False


class DocumentDetail(DocumentOut):
    group_id: str
    version: int
    parent_id: str | None
    extension_mismatch: bool
    tags: list[str]
    text_error: str | None
    legal_hold: bool


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


def _tags(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [t.strip() for t in raw.split(",") if t.strip()]


def _source(limit: int) -> tuple[CountedStream | MultipartFile, str | None, str | None]:
    """The file stream, its claimed name and claimed media type (raw body or multipart)."""
    if request.mimetype == "multipart/form-data":
        boundary = request.mimetype_params.get("boundary", "")
        if not boundary or len(boundary) > 200:
            raise invalid("multipart body needs a boundary")
        stream = CountedStream(request.stream, limit + MULTIPART_OVERHEAD, report=limit)
        part = MultipartFile(stream, boundary.encode("latin-1", errors="replace")).open()
        return part, part.filename, part.content_type
    return CountedStream(request.stream, limit), None, request.mimetype or None


def stream_upload(
    case_id: str, query: DocumentUploadQuery, key: str | None = None, version_of: str | None = None
) -> Response:
    """Begin an upload, stream the body into it part by part, finish it; abort on any error.

    With an ``Idempotency-Key`` a retry of a finished upload answers 200 with the same document.
    """
    settings = ctx().settings
    limit = settings.max_upload_bytes
    if (request.content_length or 0) > limit + (
        MULTIPART_OVERHEAD if request.mimetype == "multipart/form-data" else 0
    ):
        raise too_large(limit)
    call("cases", "get_case", case_id)  # 404 before reading a byte of the body
    # every upload endpoint reads up to the upload limit (plus multipart framing), not the JSON limit
    request.max_content_length = limit + MULTIPART_OVERHEAD
    source, claimed_name, claimed_type = _source(limit)
    begun = call(
        "documents",
        "begin_upload",
        case_id,
        query.filename or claimed_name,
        claimed_type,
        query.kind,
        query.channel,
        _tags(query.tags),
        version_of,
        key or None,
    )
    if "document" in begun:  # a retry of an upload that finished: the same document, body unread
        return jsonify(begun["document"])
    upload_id, index, total = begun["upload_id"], 0, 0
    try:
        for chunk in chunks(source, settings.upload_part_bytes):
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            call("documents", "upload_part", upload_id, index, base64.b64encode(chunk).decode())
            index += 1
    except Exception:
        with contextlib.suppress(Exception):  # the sweep aborts it later; the first error matters
            call("documents", "abort_upload", upload_id)
        raise
    document = call("documents", "finish_upload", upload_id)
    response = jsonify(document)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/documents/{document['id']}"
    return response


def verified(chunks: Iterator[bytes], document: dict[str, Any]) -> Iterator[bytes]:
    """Pass a whole download through, holding back its last chunk until the SHA-256 matches.

    Stored bytes that no longer match the hash recorded at upload are never completed: the
    response ends short of its ``Content-Length``, so the client sees a failed transfer rather
    than silently corrupt data, and the gateway logs an integrity error.
    """
    digest = hashlib.sha256()
    held: bytes | None = None
    for chunk in chunks:
        digest.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if digest.hexdigest() != document["sha256"]:
        log.error(
            "stored document failed its integrity check",
            extra={"document_id": document["id"], "expected": document["sha256"], "got": digest.hexdigest()},
        )
        raise IntegrityFailure(document["id"])
    if held is not None:
        yield held


class IntegrityFailure(RuntimeError):
    """A stored document's bytes do not match the hash recorded at upload."""


def visible_document(document_id: str) -> dict[str, Any]:
    """The document's metadata, after checking that the caller may see its case (404 if not)."""
    document = call("documents", "get_document", document_id)
    call("cases", "get_case", document["case_id"])
    return document


@bp.post(
    "/cases/<case_id>/documents",
    responses={201: DocumentDetail, 200: DocumentDetail, 413: Problem, 422: Problem},
    openapi_extensions=UPLOAD_BODY,
)
def upload_document(path: CasePath, query: DocumentUploadQuery, header: IdempotencyHeader):
    """Add a file to the case folder, streamed (raw body or multipart ``file``).

    With an ``Idempotency-Key``, a retry of an upload that finished answers 200 with its document.
    """
    principal(*WRITERS)
    return stream_upload(path.case_id, query, header.idempotency_key)


@bp.post(
    "/documents/<document_id>/versions",
    responses={201: DocumentDetail, 413: Problem, 422: Problem},
    openapi_extensions=UPLOAD_BODY,
)
def upload_version(path: DocumentPath, query: DocumentUploadQuery, header: IdempotencyHeader):
    """Add a new version of a document, streamed like a new upload."""
    principal(*WRITERS)
    if (request.content_length or 0) > ctx().settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise too_large(ctx().settings.max_upload_bytes)
    document = visible_document(path.document_id)
    return stream_upload(document["case_id"], query, header.idempotency_key, version_of=document["id"])


@bp.get("/documents/<document_id>/versions", responses={200: {"type": "array"}})
def list_versions(path: DocumentPath):
    """Every version of a document, oldest first."""
    visible_document(path.document_id)
    return jsonify(call("documents", "list_versions", path.document_id))


@bp.get("/cases/<case_id>/documents", responses={200: {"type": "array"}})
def list_documents(path: CasePath, query: DocumentListQuery):
    """The documents in a case folder (latest versions unless ``all_versions``), oldest first."""
    call("cases", "get_case", path.case_id)
    return jsonify(call("documents", "list_for_case", path.case_id, query.all_versions))


@bp.get("/documents/<document_id>", responses={200: DocumentDetail})
def get_document(path: DocumentPath):
    """A document's metadata."""
    return visible_document(path.document_id)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header:
        return None
    match = RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start >= size or start > end:
        raise HttpProblem(
            416,
            "RANGE_NOT_SATISFIABLE",
            "Range not satisfiable",
            f"the document has {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


@bp.get("/documents/<document_id>/content", responses={200: {"content": {"application/octet-stream": {}}}})
def download_document(path: DocumentPath):
    """The document's bytes, streamed, with single byte ranges."""
    who = principal()
    document = visible_document(path.document_id)
    size = document["size"]
    wanted = _range(request.headers.get("Range"), size)
    start, end = wanted if wanted else (0, size - 1)
    rpc = ctx().rpc

    def chunks() -> Iterator[bytes]:
        offset = start
        while offset <= end:
            length = min(DOWNLOAD_CHUNK, end - offset + 1)
            chunk = rpc.call(who, "documents", "read_chunk", path.document_id, offset, length)
            data = base64.b64decode(chunk)
            if not data:
                return
            offset += len(data)
            yield data

    def body() -> Iterator[bytes]:
        if wanted:
            yield from chunks()
            return
        yield from verified(chunks(), document)

    response = Response(
        stream_with_context(body()), status=206 if wanted else 200, mimetype=document["media_type"]
    )
    response.headers["Content-Length"] = str(end - start + 1)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = f'"{document["sha256"]}"'
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(document['filename'])}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
