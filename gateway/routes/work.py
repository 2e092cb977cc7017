"""Work: queues, scored queue views, claim next, the caller's work, assignment; notifications.

An agent claims the next case it is qualified for (``POST /work/next``, 204 when there is none),
renews the claim's lease while working, and releases it; supervisors assign, reassign and
reallocate in bulk (``routing_admin``). Every view is ordered by an explained score.
"""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.schemas import Inbox, LimitQuery, Problem, QueueMemberBody, QueueMemberPath
from gateway.schemas.routing import (
    AssignBody,
    CaseIdPath,
    ClaimBody,
    MyWorkQuery,
    QueueItemPath,
    QueueNamePath,
    QueueOut,
    ReleaseQuery,
    RenewBody,
    RoutedItem,
    ScoredItem,
    ScoredPage,
    ViewQuery,
)

bp = APIBlueprint(
    "work",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="work")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)

WORKERS = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)


def _filters(query: ViewQuery | MyWorkQuery) -> dict:
    return query.model_dump(exclude_none=True)


@bp.get("/queues", responses={200: {"type": "array", "items": QueueOut.model_json_schema()}})
def queues():
    """Every queue with its queued and assigned counts and its members."""
    return jsonify(call("routing", "list_queues"))


@bp.get("/queues/<queue>/items", responses={200: ScoredPage})
def queue_items(path: QueueNamePath, query: ViewQuery):
    """A queue's work, best score first (priority, SLA time left, age), filtered, cursor-paged."""
    return call("routing", "queue_items", path.queue, _filters(query))


@bp.get("/queues/<queue>/items/<case_id>/explain", responses={200: {"type": "object"}})
def explain_item(path: QueueItemPath):
    """Why an item is where it is: its score term by term, its position, the rules' verdicts."""
    return call("routing", "explain_item", path.queue, path.case_id)


@bp.get("/queues/<queue>/overview", responses={200: {"type": "object"}})
def queue_overview(path: QueueNamePath):
    """Counts, overdue work and each member's load, capacity and availability."""
    return call("routing", "queue_overview", path.queue)


@bp.put("/queues/<queue>/members/<user_id>", responses={200: {"type": "object"}})
def put_member(path: QueueMemberPath, body: QueueMemberBody):
    """Add a user to a queue as agent or supervisor (supervisors and admins).

    Idempotent and unversioned: the role is the whole membership, which ``GET /queues`` lists and
    which has no representation of its own to take an ETag from; the last PUT's role stands."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "add_queue_member", path.queue, path.user_id, body.role)


@bp.get("/me/work", responses={200: ScoredPage})
def my_work(query: MyWorkQuery):
    """The caller's assigned work, best score first."""
    return call("routing", "my_work", _filters(query))


@bp.post("/work/next", responses={200: ScoredItem, 204: None, 409: Problem})
def claim_next(body: ClaimBody):
    """Claim the best queued case you may take (skills, capacity); 204 when there is none.

    The claim holds a lease: renew it while you work, or the case returns to its queue.
    """
    principal(*WORKERS)
    item = call("routing", "claim_next", body.queue, body.lease_seconds)
    if item is None:
        return Response(status=204)
    return item


@bp.post("/cases/<case_id>/assignment/renew", responses={200: RoutedItem, 409: Problem})
def renew(path: CaseIdPath, body: RenewBody):
    """Extend the lease of your own claim."""
    principal(*WORKERS)
    return call("routing", "renew_claim", path.case_id, body.lease_seconds)


@bp.delete("/cases/<case_id>/assignment", responses={200: RoutedItem, 409: Problem})
def release(path: CaseIdPath, query: ReleaseQuery):
    """Put the case back in its queue: your own, or anyone's for supervisors."""
    principal(*WORKERS)
    return call("routing", "release_case", path.case_id, query.reason)


@bp.post("/cases/<case_id>/assignment", responses={200: RoutedItem, 409: Problem})
def assign(path: CaseIdPath, body: AssignBody):
    """Assign or reassign a case to a member of its queue (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "assign_case", path.case_id, body.assignee, body.reason, body.force)


@bp.get("/cases/<case_id>/routing", responses={200: {"type": "object"}})
def case_routing(path: CaseIdPath):
    """The work item, its score, why the rules put it there, every decision and assignment."""
    return call("routing", "case_routing", path.case_id)


@bp.get("/notifications", responses={200: Inbox})
def inbox(query: LimitQuery):
    """The caller's in-app notifications, newest first, with the unread count."""
    return call("notifications", "inbox", query.unread_only, query.limit)
