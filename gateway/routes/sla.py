"""SLA clocks (with their story), work at risk, business calendars and SLA policies."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN
from gateway.deps import BEARER, call, principal
from gateway.schemas import CasePath, Problem, VersionHeaders
from gateway.schemas.sla import (
    AtRisk,
    AtRiskQuery,
    CalendarBody,
    CalendarList,
    CalendarOut,
    CalendarPath,
    CaseClocks,
    PolicyBody,
    PolicyOut,
    PolicyPath,
)
from gateway.versioned import CHANGE_RESPONSES, precondition, tagged

bp = APIBlueprint(
    "sla",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="sla")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)


@bp.get("/cases/<case_id>/sla", responses={200: CaseClocks, 404: Problem})
def case_sla(path: CasePath):
    """The case's SLA clocks and their story: started, paused (and why), resumed, warned,
    breached, stopped (met or missed), each time on the clock's business calendar."""
    return call("routing", "case_clocks", path.case_id)


@bp.get("/sla/at-risk", responses={200: AtRisk, 404: Problem, 422: Problem})
def at_risk(query: AtRiskQuery):
    """Running clocks that warned, breached or fall due within ``within`` seconds, soonest
    first; ``queue`` narrows it to one queue. Only cases the caller may see."""
    return call("routing", "sla_at_risk", query.queue, query.within, query.limit)


@bp.get("/calendars", responses={200: CalendarList})
def list_calendars():
    """Every business calendar, the built-in ``24x7`` included."""
    return {"items": call("routing", "list_calendars")}


@bp.get("/calendars/<name>", responses={200: CalendarOut, 404: Problem})
def get_calendar(path: CalendarPath):
    """One business calendar: time zone, working hours per weekday, holidays.

    The ETag is the calendar's version (``"0"`` for the built-in ``24x7``)."""
    return tagged(call("routing", "get_calendar", path.name))


@bp.put("/calendars/<name>", responses={200: CalendarOut, 422: Problem, **CHANGE_RESPONSES})
def put_calendar(path: CalendarPath, body: CalendarBody, header: VersionHeaders):
    """Create or replace a calendar (admins). Running clocks on it are rescheduled at once:
    what they ran so far stands, the rest is counted on the new hours.

    Replacing a stored calendar needs ``If-Match`` with its ETag (428 without, 412 when it changed
    meanwhile); creating one needs no precondition (``If-None-Match: *`` refuses to replace one).
    The answer carries the new ETag."""
    principal(ROLE_ADMIN)
    definition = body.model_dump(mode="json", exclude_none=True)
    return tagged(call("routing", "put_calendar", path.name, definition, precondition(header)))


@bp.get("/sla/policies/<case_type>", responses={200: PolicyOut, 422: Problem})
def get_policy(path: PolicyPath):
    """The SLA policy a case type runs under (its own, else ``*``, else the built-in one).

    The ETag is the version of the type's own policy (``"0"`` while it inherits one)."""
    return tagged(call("routing", "get_sla_policy", path.case_type))


@bp.put("/sla/policies/<case_type>", responses={200: PolicyOut, 422: Problem, **CHANGE_RESPONSES})
def put_policy(path: PolicyPath, body: PolicyBody, header: VersionHeaders):
    """Create or replace a case type's SLA policy (admins; ``*`` for every type without one).
    It applies to clocks that start from now on.

    Replacing the type's own policy needs ``If-Match`` with its ETag (428 without, 412 when it
    changed meanwhile); giving a type its first own policy needs no precondition
    (``If-None-Match: *`` refuses to replace one). The answer carries the new ETag."""
    principal(ROLE_ADMIN)
    definition = body.model_dump(mode="json", exclude_none=True)
    return tagged(call("routing", "put_sla_policy", path.case_type, definition, precondition(header)))
