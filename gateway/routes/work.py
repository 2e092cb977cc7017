"""Work queues and the caller's notifications."""

from __future__ import annotations

from flask import jsonify
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.schemas import Inbox, LimitQuery, Problem, QueueMemberBody, QueueMemberPath, QueuePath

bp = APIBlueprint(
    "work",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="work")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)


@bp.get("/queues/<queue>/items", responses={200: {"type": "array"}})
def queue_items(path: QueuePath, query: LimitQuery):
    """Queued work in a queue, highest priority first, then oldest."""
    return jsonify(call("routing", "queue_view", path.queue, query.limit))


@bp.put("/queues/<queue>/members/<user_id>", responses={200: {"type": "object"}})
def put_member(path: QueueMemberPath, body: QueueMemberBody):
    """Add a user to a queue as agent or supervisor (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "add_queue_member", path.queue, path.user_id, body.role)


@bp.get("/notifications", responses={200: Inbox})
def inbox(query: LimitQuery):
    """The caller's in-app notifications, newest first, with the unread count."""
    return call("notifications", "inbox", query.unread_only, query.limit)
