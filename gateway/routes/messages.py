"""Messages from the case (email, SMS), staff notifications, their live stream, preferences, templates.

The live stream is server-sent events on an ordinary authenticated GET: clients send the
``Authorization`` header (fetch streaming; never a token in the URL). Each open stream holds one
gunicorn thread, so a worker serves at most ``SSE_MAX_STREAMS`` at once (503 beyond), every stream
ends after ``SSE_MAX_SECONDS`` (the client reconnects with ``Last-Event-ID``) and all of them end
promptly when the worker shuts down.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator

from flask import Response, jsonify, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, ctx, principal
from gateway.errors import HttpProblem
from gateway.schemas import CasePath, IdempotencyHeader, Inbox, Problem, VersionHeaders
from gateway.schemas.channels import (
    InboxQuery,
    MessageIn,
    MessageOut,
    MessagePath,
    Preferences,
    PreferencesOut,
    ReadBody,
    TemplateIn,
    TemplateOut,
    TemplatePath,
)
from gateway.versioned import CHANGE_RESPONSES, precondition, tagged

bp = APIBlueprint(
    "messages",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="messages")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)

SENDERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
SHUTDOWN = threading.Event()
MAX_STREAMS = int(os.environ.get("SSE_MAX_STREAMS", "8"))
MAX_SECONDS = float(os.environ.get("SSE_MAX_SECONDS", "300"))
POLL_SECONDS = float(os.environ.get("SSE_POLL_SECONDS", "1"))
HEARTBEAT_SECONDS = 15.0
_streams = threading.BoundedSemaphore(MAX_STREAMS)


# --- messages from the case -------------------------------------------------------------------


@bp.post("/cases/<case_id>/messages", responses={201: MessageOut, 200: MessageOut})
def send_message(path: CasePath, body: MessageIn, header: IdempotencyHeader):
    """Send an email or SMS from the case: a template (variables from the case) or free text.

    Queued and delivered by the dispatcher with retries; a retry with the same
    ``Idempotency-Key`` returns the same message (200) and never sends twice.
    """
    principal(*SENDERS)
    key = header.idempotency_key or str(uuid.uuid4())
    out = call("notifications", "send_message", path.case_id, body.model_dump(exclude_none=True), key)
    response = jsonify(out)
    response.status_code = 201 if out.get("created") else 200
    response.headers["Location"] = f"/api/v1/messages/{out['id']}"
    return response


@bp.get("/cases/<case_id>/messages", responses={200: {"type": "array"}})
def list_messages(path: CasePath):
    """Messages sent from the case, each with its delivery log."""
    return jsonify(call("notifications", "list_messages", path.case_id))


@bp.get("/messages/<message_id>", responses={200: MessageOut})
def get_message(path: MessagePath):
    """One outbound message and its delivery log."""
    return call("notifications", "get_message", path.message_id)


@bp.put("/cases/<case_id>/follow", responses={200: {"type": "object"}})
def follow(path: CasePath):
    """Follow a case: new inbound messages on it notify the caller. Idempotent and unversioned
    (the caller's own on/off switch), like ``DELETE``."""
    return call("notifications", "follow", path.case_id, True)


@bp.delete("/cases/<case_id>/follow", responses={200: {"type": "object"}})
def unfollow(path: CasePath):
    """Stop following a case."""
    return call("notifications", "follow", path.case_id, False)


# --- notifications ----------------------------------------------------------------------------


@bp.post("/notifications/read", responses={200: Inbox})
def mark_read(body: ReadBody):
    """Mark notifications read (``ids``, or ``all``); answers the unread count after."""
    return call("notifications", "mark_read", body.ids, body.all)


def _event(name: str, data: dict, event_id: str | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


@bp.get("/notifications/stream", responses={200: {"description": "text/event-stream"}})
def stream(query: InboxQuery):
    """Live notifications as server-sent events (``notification`` and ``unread`` events).

    Authenticate with the Authorization header. Resume with ``Last-Event-ID``.
    """
    who = principal()
    if SHUTDOWN.is_set():
        raise HttpProblem(503, "UNAVAILABLE", "Shutting down", "reconnect", headers={"Retry-After": "1"})
    if not _streams.acquire(blocking=False):
        raise HttpProblem(
            503,
            "TOO_MANY_STREAMS",
            "Too many streams",
            "this worker serves its maximum of live streams",
            headers={"Retry-After": "5"},
        )
    rpc = ctx().rpc
    last = request.headers.get("Last-Event-ID") or None
    try:
        first = rpc.call(who, "notifications", "inbox", False, query.limit, last)
    except Exception:
        _streams.release()
        raise

    def events() -> Iterator[str]:
        nonlocal last
        started = beat = time.monotonic()
        try:
            yield "retry: 2000\n\n"
            current, told = first, None
            while True:
                items = current["items"] if last else list(reversed(current["items"]))
                for item in items:
                    last = item["id"]
                    yield _event("notification", item, item["id"])
                if current["unread"] != told:
                    told = current["unread"]
                    yield _event("unread", {"unread": told})
                deadline = time.monotonic() + POLL_SECONDS
                while time.monotonic() < deadline:
                    if SHUTDOWN.is_set() or time.monotonic() - started > MAX_SECONDS:
                        yield _event("bye", {"reason": "shutdown" if SHUTDOWN.is_set() else "max age"})
                        return
                    SHUTDOWN.wait(0.2)
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    yield ": keep-alive\n\n"
                current = rpc.call(who, "notifications", "inbox", False, 200, last)
        finally:
            _streams.release()

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@bp.get("/me/preferences", responses={200: PreferencesOut})
def get_preferences():
    """The caller's notification channels per kind (``in_app``, ``email``).

    The ETag is their version (``"0"`` while the defaults apply)."""
    return tagged(call("notifications", "get_preferences"))


@bp.put("/me/preferences", responses={200: PreferencesOut, **CHANGE_RESPONSES})
def put_preferences(body: Preferences, header: VersionHeaders):
    """Choose channels per kind; ``email`` is where email notifications go. Kinds left out keep
    their channels.

    Once preferences are stored, send ``If-Match`` with their ETag (428 without, 412 when they
    changed meanwhile, e.g. in another tab); the first PUT needs no precondition. The answer
    carries the new ETag."""
    change = body.model_dump(exclude_none=True)
    return tagged(call("notifications", "put_preferences", change, precondition(header)))


# --- templates --------------------------------------------------------------------------------


@bp.get("/templates/<event>/<locale>", responses={200: TemplateOut})
def get_template(path: TemplatePath):
    """A template (the admin's version, else the file), falling back to ``en``.

    The ETag is the version of the admin's template stored under this event and locale (``"0"``
    while the file or the ``en`` fallback is shown)."""
    return tagged(call("notifications", "get_template", path.event, path.locale))


@bp.put("/templates/<event>/<locale>", responses={200: TemplateOut, **CHANGE_RESPONSES})
def put_template(path: TemplatePath, body: TemplateIn, header: VersionHeaders):
    """Save a template (admins); it must render against sample variables (sandboxed Jinja2).

    Replacing an admin's template needs ``If-Match`` with its ETag (428 without, 412 when it
    changed meanwhile); the first one for an event and locale needs no precondition
    (``If-None-Match: *`` refuses to replace one). The answer carries the new ETag."""
    principal(ROLE_ADMIN)
    key, template = (path.event, path.locale), body.model_dump()
    return tagged(call("notifications", "put_template", *key, template, precondition(header)))
