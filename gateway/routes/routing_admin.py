"""Routing administration: the rule set (JSON or YAML, versioned), agents, queues, bulk moves."""

from __future__ import annotations

from typing import Any

import yaml
from flask import jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR
from gateway.deps import BEARER, call, principal
from gateway.errors import HttpProblem
from gateway.schemas import Problem, QueueMemberPath
from gateway.schemas.routing import (
    AgentBody,
    AgentOut,
    AgentPath,
    BulkBody,
    BulkResult,
    QueueBody,
    QueueNamePath,
    RulesOut,
    RulesQuery,
)

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


def _if_match() -> int | None:
    value = (request.headers.get("If-Match") or "").strip().strip('W/"').strip('"')
    if not value or value == "*":
        return None
    if not value.isdigit():
        raise HttpProblem(412, "STALE_VERSION", "Precondition failed", "If-Match names no rule set version")
    return int(value)


@bp.get("/routing/rules", responses={200: RulesOut})
def get_rules(query: RulesQuery):
    """The routing rules in force (or an older ``version``); the ETag is the version."""
    out = call("routing", "get_rules", query.version)
    response = jsonify(out)
    if out.get("version") is not None:
        response.headers["ETag"] = f'"{out["version"]}"'
    return response


@bp.put("/routing/rules", responses={200: RulesOut, 400: Problem, 409: Problem, 412: Problem})
def put_rules():
    """Replace the rule set (admins): validated with precise field errors, stored as a new version.

    The body is the rule set as JSON, or YAML with ``Content-Type: application/yaml``. ``If-Match``
    with the version you edited refuses a lost update (409 when the rules moved on).
    """
    principal(ROLE_ADMIN)
    expected = _if_match()
    out = call("routing", "put_rules", _document(), expected)
    response = jsonify(out)
    response.headers["ETag"] = f'"{out["version"]}"'
    return response


@bp.get("/agents", responses={200: {"type": "array", "items": AgentOut.model_json_schema()}})
def list_agents():
    """Every agent profile with its current load (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return jsonify(call("routing", "list_agents"))


@bp.get("/agents/<user_id>", responses={200: AgentOut})
def get_agent(path: AgentPath):
    """An agent's skills, languages, capacity, availability and load (self, supervisors, admins)."""
    return call("routing", "get_agent", path.user_id)


@bp.put("/agents/<user_id>", responses={200: AgentOut})
def put_agent(path: AgentPath, body: AgentBody):
    """Set an agent's profile (supervisors, admins); agents set their own availability only."""
    return call("routing", "put_agent", path.user_id, body.model_dump(exclude_unset=True))


@bp.put("/queues/<queue>", responses={200: {"type": "object"}})
def put_queue(path: QueueNamePath, body: QueueBody):
    """Create a queue or rename it (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "put_queue", path.queue, body.title)


@bp.delete("/queues/<queue>/members/<user_id>", responses={200: {"type": "object"}})
def remove_member(path: QueueMemberPath):
    """Take a user off a queue (supervisors and admins)."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "remove_queue_member", path.queue, path.user_id)


@bp.post("/assignments/bulk", responses={200: BulkResult, 409: Problem})
def bulk(body: BulkBody):
    """Reallocate many cases (supervisors, admins): move them, deal them out, or return them."""
    principal(ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("routing", "bulk_reallocate", body.model_dump(exclude_unset=True))
