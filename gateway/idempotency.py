"""``Idempotency-Key`` on every authenticated POST, stored in the gateway's database.

The first request with a key claims it (a ``pending`` row, keyed by principal and key) and its
response is stored when it finishes; a retry with the same key and the same request gets the
stored response again (``Idempotent-Replayed: true``); the same key with a different request is
422; a retry while the first is still running is 409 with ``Retry-After``. A 5xx answer frees the
key (nothing happened that a retry could repeat, or the service dedupes it itself). Records are
kept for ``IDEMPOTENCY_TTL`` (at least 24 h). Requests without the header are untouched.

Endpoints whose service dedupes by the key itself (opening a case, uploading a document) pass a
completed key through to the service, which answers 200 with what it made the first time.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from casekit.db import utcnow
from gateway.auth import aware
from gateway.deps import authenticate, ctx, db
from gateway.errors import HttpProblem, problem
from gateway.users import IdempotencyRecord

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
LOCK_SECONDS = 60  # longer than any request may run (gunicorn's timeout is 30 s)
EXEMPT = {"auth.create_token", "auth.refresh_token"}
PASS_THROUGH = {"cases.create_case", "documents.upload_document", "documents.upload_version"}
STREAMED = {"documents.upload_document", "documents.upload_version"}
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
MAX_STORED_BODY = 1024 * 1024


def fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(b"&".join(sorted(request.query_string.split(b"&"))) + b"\n")
    if request.endpoint in STREAMED:  # never buffer an upload: its size and type stand for it
        digest.update(f"{request.content_type}|{request.content_length}".encode())
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def begin() -> Response | None:
    """Before the view: claim the key, or answer with a replay, a 409 or a 422."""
    if request.method != "POST" or HEADER not in request.headers or request.endpoint in EXEMPT:
        return None
    key = request.headers[HEADER].strip()
    if not key or len(key) > 255:
        return problem(
            422,
            "INVALID_INPUT",
            "Invalid input",
            "Idempotency-Key must be 1-255 characters",
            [{"field": HEADER, "message": "1-255 characters"}],
        )
    try:
        who = authenticate()
    except HttpProblem:
        return None  # the view answers 401
    owner, fp, now = who.user_id or "", fingerprint(), utcnow()
    expires = now + timedelta(seconds=ctx().settings.idempotency_ttl)
    with db() as session:
        if random.random() < 0.002:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(
                        principal=owner,
                        key=key,
                        fingerprint=fp,
                        state="pending",
                        locked_at=now,
                        expires_at=expires,
                    )
                )
            g.idempotency = (owner, key)
            return None
        except IntegrityError:
            pass
        row = session.get(IdempotencyRecord, (owner, key), with_for_update=True)
        if (
            row is None
            or aware(row.expires_at) <= now
            or (
                row.state == "pending"
                and row.fingerprint == fp
                and aware(row.locked_at) <= now - timedelta(seconds=LOCK_SECONDS)
            )
        ):
            if row is None:
                return _in_progress()
            row.fingerprint, row.state, row.locked_at, row.expires_at = fp, "pending", now, expires
            row.status = row.headers = row.body = None
            g.idempotency = (owner, key)
            return None
        if row.state == "pending":
            return _in_progress()
        if row.fingerprint != fp:
            return problem(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency key reused",
                "this Idempotency-Key was used with a different request",
            )
        if request.endpoint in PASS_THROUGH:
            return None
        replay = Response(row.body or b"", status=row.status or 200)
        for name, value in (row.headers or {}).items():
            replay.headers[name] = value
        replay.headers["Idempotent-Replayed"] = "true"
        return replay


def _in_progress() -> Response:
    return problem(
        409,
        "REQUEST_IN_PROGRESS",
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


def finish(response: Response) -> Response:
    """After the view: store the response under the claimed key (or free the key on a 5xx)."""
    claimed = g.pop("idempotency", None)
    if claimed is None:
        return response
    try:
        with db() as session:
            row = session.get(IdempotencyRecord, claimed)
            if row is None:
                return response
            if response.status_code >= 500 or response.is_streamed:
                session.delete(row)
                return response
            body = response.get_data()
            if len(body) > MAX_STORED_BODY:
                session.delete(row)
                return response
            row.state, row.status, row.body = "done", response.status_code, body
            row.headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    except Exception:  # noqa: BLE001 - the response stands; the key stays pending until its lock expires
        log.warning("could not store the idempotent response", exc_info=True)
    return response
