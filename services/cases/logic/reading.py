"""Reading cases: one case (the read is audited), filtered and sorted lists, the timeline."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, true, tuple_
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from casekit.context import ROLE_SUPERVISOR, Principal
from casekit.contracts.cases import CASE_SORTS, CASE_STATUSES, TYPE_KEY_PATTERN, Priority
from casekit.contracts.ids import is_uuid
from casekit.contracts.visibility import SEE_ALL
from casekit.errors import InvalidInput
from services.cases import audit
from services.cases.logic.common import definition_of, load_case, require_reader
from services.cases.models import AuditEntry, Case, CaseParty
from services.cases.schemas import case_summary, timeline_item

CASE_READ = "case_read"
FAR_FUTURE = datetime.fromisoformat("9999-12-31T00:00:00+00:00")
PRIORITY_ORDER = sql_case(
    {p.value: rank for rank, p in enumerate(Priority, start=1)}, value=Case.priority, else_=0
)


def get_case(*, session: Session, principal: Principal, case_id: str, record_read: bool = False) -> Case:
    """The case if visible; ``record_read`` appends who opened the file to its audit trail."""
    case = load_case(session, principal, case_id)
    if record_read:
        audit.append(session, case_id=case.id, principal=principal, action=CASE_READ, changes={})
    return case


def visibility_filter(principal: Principal) -> ColumnElement[bool]:
    """``casekit.contracts.visibility.can_see`` as SQL."""
    if not principal.authenticated or not principal.roles:
        return false()
    if principal.has_role(*SEE_ALL):
        return true()
    team_ok = (
        or_(Case.team.is_(None), Case.team.in_(list(principal.teams)))
        if principal.teams
        else Case.team.is_(None)
    )
    if principal.has_role(ROLE_SUPERVISOR):
        return team_ok
    return and_(team_ok, Case.restricted.is_(False))


def _sort_key(sort: str) -> tuple[Any, bool]:
    """(SQL expression, descending) of a sort name; ``-name`` reverses it."""
    reverse = sort.startswith("-")
    name = sort.lstrip("-")
    key, desc = {
        "created": (Case.created_at, True),
        "priority": (PRIORITY_ORDER, True),
        "due": (func.coalesce(Case.due_at, literal(FAR_FUTURE)), False),
        "age": (Case.created_at, False),
        "updated": (Case.updated_at, True),
    }[name]
    return key, desc != reverse


def _key_value(case: Case, sort: str) -> Any:
    name = sort.lstrip("-")
    if name == "priority":
        return [p.value for p in Priority].index(case.priority) + 1 if case.priority in set(Priority) else 0
    if name == "due":
        return (case.due_at or FAR_FUTURE).isoformat()
    return (case.updated_at if name == "updated" else case.created_at).isoformat()


def list_cases(
    *,
    session: Session,
    principal: Principal,
    status: str | None = None,
    type_key: str | None = None,
    stage: str | None = None,
    priority: str | None = None,
    team: str | None = None,
    party_id: str | None = None,
    sort: str = "created",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of visible cases, filtered and sorted, and the cursor of the next page."""
    require_reader(principal)
    if status is not None and status not in CASE_STATUSES:
        raise InvalidInput.from_field("status", f"must be one of {', '.join(CASE_STATUSES)}")
    if type_key is not None and not re.fullmatch(TYPE_KEY_PATTERN, type_key):
        raise InvalidInput.from_field("type", "is not a case type key")
    if priority is not None and priority not in set(Priority):
        raise InvalidInput.from_field("priority", f"must be one of {', '.join(p.value for p in Priority)}")
    if sort.lstrip("-") not in (*CASE_SORTS, "created"):
        raise InvalidInput.from_field("sort", f"must be one of {', '.join(CASE_SORTS)} (optionally with -)")
    if party_id is not None and not is_uuid(party_id):
        raise InvalidInput.from_field("party_id", "is not a party id")
    limit = max(1, min(limit, 200))
    key, desc = _sort_key(sort)
    stmt = select(Case).where(visibility_filter(principal))
    stmt = stmt.order_by(key.desc() if desc else key.asc(), Case.id.desc() if desc else Case.id.asc())
    for column, value in (
        (Case.status, status),
        (Case.type_key, type_key),
        (Case.stage, stage),
        (Case.priority, priority),
        (Case.team, team),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if party_id is not None:
        stmt = stmt.where(
            select(CaseParty.case_id)
            .where(CaseParty.case_id == Case.id, CaseParty.party_id == party_id)
            .exists()
        )
    if cursor:
        value, case_id = decode_cursor(cursor, sort)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        after = (
            tuple_(key, Case.id) < tuple_(value, case_id)
            if desc
            else tuple_(key, Case.id) > tuple_(value, case_id)
        )
        stmt = stmt.where(after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1], sort)
    return [case_summary(c, definition_of(session, c.type_key, c.type_version)) for c in rows], next_cursor


def encode_cursor(case: Case, sort: str) -> str:
    if sort == "created":
        return _encode_cursor(case.created_at, case.id)
    raw = json.dumps([sort, _key_value(case, sort), case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    if sort == "created":
        return _decode_cursor(cursor)
    try:
        name, value, case_id = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        if isinstance(value, str):
            datetime.fromisoformat(value)
        ok = (
            name == sort and is_uuid(case_id) and isinstance(value, int | str) and not isinstance(value, bool)
        )
    except (ValueError, TypeError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise InvalidInput.from_field("cursor", "not a cursor this API issued for this sort")
    return value, case_id


def _encode_cursor(created_at: datetime, case_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{case_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, case_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError):
        created_at, case_id = None, ""
    if created_at is None or created_at.tzinfo is None or not is_uuid(case_id):
        raise InvalidInput.from_field("cursor", "not a cursor this API issued")
    return created_at, case_id


def audit_entries(*, session: Session, case_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq))
    )


def timeline(
    *, session: Session, principal: Principal, case_id: str, after: int = 0, limit: int = 200
) -> dict[str, Any]:
    """Every change of the case in order (reads left out): notes, tasks, parties, links, stages,
    intake items, each from the audit entry that recorded it."""
    case = load_case(session, principal, case_id)
    limit = max(1, min(limit, 500))
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.case_id == case.id, AuditEntry.seq > after, AuditEntry.action != CASE_READ)
            .order_by(AuditEntry.seq)
            .limit(limit + 1)
        )
    )
    more = len(entries) > limit
    entries = entries[:limit]
    return {
        "items": [timeline_item(e) for e in entries],
        "next_after": entries[-1].seq if more else None,
    }
