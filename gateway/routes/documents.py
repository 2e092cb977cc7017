"""Documents: streamed upload into a case folder, listing, metadata, ranged download."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from flask import Response, jsonify, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, ctx, principal
from gateway.errors import HttpProblem
from gateway.schemas import CasePath, DocumentOut, DocumentPath, Problem, UploadQuery

bp = APIBlueprint(
    "documents",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="documents")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 503: Problem},
)

DOWNLOAD_CHUNK = 1024 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def too_large(limit: int) -> HttpProblem:
    return HttpProblem(413, "PAYLOAD_TOO_LARGE", "Payload too large", f"the limit is {limit} bytes")


def _source() -> tuple[IO[bytes], str | None, str | None]:
    """The file stream, its claimed name and claimed media type (raw body or multipart)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise HttpProblem(
                422,
                "INVALID_INPUT",
                "Invalid input",
                "multipart body needs a 'file' part",
                [{"field": "file", "message": "required"}],
            )
        return upload.stream, upload.filename, upload.mimetype
    return request.stream, None, request.mimetype or None


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


@bp.post(
    "/cases/<case_id>/documents",
    responses={201: DocumentOut, 413: Problem, 422: Problem},
    openapi_extensions=UPLOAD_BODY,
)
def upload_document(path: CasePath, query: UploadQuery):
    """Add a file to the case folder, streamed (raw body or multipart ``file``)."""
    principal(ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
    settings = ctx().settings
    limit = settings.max_upload_bytes
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    call("cases", "get_case", path.case_id)  # 404 before reading a byte of the body
    stream, claimed_name, claimed_type = _source()
    begun = call(
        "documents",
        "begin_upload",
        path.case_id,
        query.filename or claimed_name,
        claimed_type,
        query.kind,
        query.channel,
    )
    upload_id, index, total = begun["upload_id"], 0, 0
    try:
        while chunk := stream.read(settings.upload_part_bytes):
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            call("documents", "upload_part", upload_id, index, base64.b64encode(chunk).decode())
            index += 1
    except Exception:
        call("documents", "abort_upload", upload_id)
        raise
    document = call("documents", "finish_upload", upload_id)
    response = jsonify(document)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/documents/{document['id']}"
    return response


@bp.get("/cases/<case_id>/documents", responses={200: {"type": "array"}})
def list_documents(path: CasePath):
    """The documents in a case folder, oldest first."""
    call("cases", "get_case", path.case_id)
    return jsonify(call("documents", "list_for_case", path.case_id))


@bp.get("/documents/<document_id>", responses={200: DocumentOut})
def get_document(path: DocumentPath):
    """A document's metadata."""
    document = call("documents", "get_document", path.document_id)
    call("cases", "get_case", document["case_id"])
    return document


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
    document = call("documents", "get_document", path.document_id)
    call("cases", "get_case", document["case_id"])
    size = document["size"]
    wanted = _range(request.headers.get("Range"), size)
    start, end = wanted if wanted else (0, size - 1)
    rpc = ctx().rpc

    def body() -> Iterator[bytes]:
        offset = start
        while offset <= end:
            length = min(DOWNLOAD_CHUNK, end - offset + 1)
            chunk = rpc.call(who, "documents", "read_chunk", path.document_id, offset, length)
            data = base64.b64decode(chunk)
            if not data:
                return
            offset += len(data)
            yield data

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
