"""Routing administration: the rule set (JSON or YAML, versioned), agents, queues, bulk moves."""

from __future__ import annotations

from typing import Any

import yaml
from flask import jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.errors import HttpProblem
from gateway.schemas import Problem, QueueMemberPath, VersionHeaders
from gateway.schemas.routing import (
    AgentBody,
    AgentOut,
    AgentPath,
    BulkBody,
    BulkResult,
    QueueBody,
    QueueNamePath,
    ReapplyBody,
    ReapplyResult,
    RulesOut,
    RulesQuery,
)
from gateway.versioned import CHANGE_RESPONSES, precondition, tagged

bp = APIBlueprint(
    "routing_admin",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="routing")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 404: Problem, 422: Problem, 503: Problem},
)


def _document() -> Any:
    content_type = (request.content_type or "").lower()
    raw = request.get_data(cache=True)
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode("utf-8")) or {}
        return request.get_json(force=True, silent=False)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise HttpProblem(
            400, "MALFORMED", "Malformed body", f"the rule set could not be read: {exc}"
        ) from None


@bp.get("/routing/rules", responses={200: RulesOut})
def get_rules(query: RulesQuery):
    """The routing rules in force (or an older ``version``).

    The ETag is the rule set's version (``"0"`` before any rule set was stored)."""
    return tagged(call("routing", "get_rules", query.version))


@bp.put("/routing/rules", responses={200: RulesOut, 400: Problem, **CHANGE_RESPONSES})
def put_rules(header: VersionHeaders):
    """Replace the rule set (admins): validated with precise field errors, stored as a new version.

    The body is the rule set as JSON, or YAML with ``Content-Type: application/yaml``. Send
    ``If-Match`` with the ETag of the rules you edited (``*``: whatever is in force): 412 when the
    rules moved on meanwhile, 428 without it once a rule set is stored (the first one needs no
    precondition; ``If-None-Match: *`` makes that explicit). The answer carries the new ETag.
    """
    principal(ROLE_ADMIN)
    return tagged(call("routing", "put_rules", _document(), None, precondition(header)))


@bp.post("/routing/rules/reapply", responses={200: ReapplyResult})
def reapply_rules(body: ReapplyBody):
    """Route the waiting cases again by the rules in force (supervisors, admins).

    A new rule set applies to cases as they arrive or change; this moves the ones already
    waiting. Cases someone holds are not touched, and neither are cases a person or an SLA
    action moved by hand. ``dry_run`` lists what would move. Each call examines up to 5,000
    cases; when ``next_after`` is set, call again with it as ``after``.
    """
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "reapply_rules", body.dry_run, body.after)


@bp.get("/agents", responses={200: {"type": "array", "items": AgentOut.model_json_schema()}})
def list_agents():
    """Every agent profile with its current load (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return jsonify(call("routing", "list_agents"))


@bp.get("/agents/<user_id>", responses={200: AgentOut})
def get_agent(path: AgentPath):
    """An agent's skills, languages, capacity, availability and load (self, supervisors, admins).

    The ETag is the profile's version (``"0"`` while the defaults apply)."""
    return tagged(call("routing", "get_agent", path.user_id))


@bp.put("/agents/<user_id>", responses={200: AgentOut, **CHANGE_RESPONSES})
def put_agent(path: AgentPath, body: AgentBody, header: VersionHeaders):
    """Set an agent's profile (supervisors, admins); agents set their own availability only.

    Fields left out keep their values. Send ``If-Match`` with the profile's ETag: 412 when it
    changed meanwhile, 428 without it once the profile is stored. A PUT to a user with no profile
    yet creates one without a precondition (``If-None-Match: *`` refuses to overwrite one).
    """
    change = body.model_dump(exclude_unset=True)
    return tagged(call("routing", "put_agent", path.user_id, change, precondition(header)))


@bp.put("/queues/<queue>", responses={200: {"type": "object"}})
def put_queue(path: QueueNamePath, body: QueueBody):
    """Create a queue or rename it (supervisors and admins).

    Idempotent and unversioned: the title is the whole of what a PUT sets, and a queue has no
    representation of its own (``GET /queues`` lists them) to take an ETag from."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "put_queue", path.queue, body.title)


@bp.delete("/queues/<queue>/members/<user_id>", responses={200: {"type": "object"}})
def remove_member(path: QueueMemberPath):
    """Take a user off a queue (supervisors and admins).

    Idempotent and unversioned, like ``PUT``: a membership is one role, listed by ``GET /queues``,
    with no representation of its own to take an ETag from."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "remove_queue_member", path.queue, path.user_id)


@bp.post("/assignments/bulk", responses={200: BulkResult, 409: Problem})
def bulk(body: BulkBody):
    """Reallocate many cases (supervisors, admins): move them, deal them out, or return them."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "bulk_reallocate", body.model_dump(exclude_unset=True))
