"""ETags and preconditions of the versioned resources other than cases.

Preferences, templates, agent profiles, calendars, SLA policies and the routing rule set carry a
version kept by the service that owns them. Reads answer ``ETag: "<version>"`` (``"0"`` while
nothing is stored and a default, inherited, file or built-in value is shown). A change passes the
request's ``If-Match`` / ``If-None-Match`` to the owning service, which checks them atomically
with the write (``casekit.preconditions``): 412 when stale, 428 when a stored resource is changed
without ``If-Match``; a PUT that creates needs no precondition. The answer carries the new ETag.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from casekit import preconditions
from gateway.schemas import Problem, VersionHeaders

# the answers a change of a versioned resource adds to its operation's responses
CHANGE_RESPONSES: dict[int, Any] = {412: Problem, 428: Problem}


def precondition(header: VersionHeaders) -> preconditions.Precondition:
    """What the request's ``If-Match`` and ``If-None-Match`` ask of the stored version."""
    return preconditions.from_headers(header.if_match, header.if_none_match)


def tagged(out: dict[str, Any], status: int = 200) -> Response:
    """``out`` as JSON with its ``version`` as the strong ETag."""
    response = jsonify(out)
    response.status_code = status
    response.headers["ETag"] = preconditions.etag(out.get("version"))
    return response
