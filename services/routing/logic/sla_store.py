"""Where calendars and SLA policies live: read, edited by admins (validated), seeded from YAML."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit import preconditions
from casekit.context import ROLE_ADMIN, Principal, require_authenticated, require_roles
from casekit.contracts.cases import TYPE_KEY_PATTERN
from casekit.errors import InvalidInput, NotFound
from services.routing.logic import sla_clock
from services.routing.logic.calendars import ALWAYS, ALWAYS_OPEN, Calendar, parse_calendar
from services.routing.logic.sla_policy import BUILTIN_POLICY, validate_policy
from services.routing.models import SlaCalendar, SlaClock, SlaHistory, SlaPolicy, WorkItem

log = logging.getLogger(__name__)

DEFAULT_POLICY = "*"
_parsed: dict[tuple[str, int], Calendar] = {}


def db_now(session: Session) -> datetime:
    """The database's clock (every replica agrees on it)."""
    return session.execute(select(func.now())).scalar_one()


def sync_due(session: Session, case_id: str) -> bool:
    """Set the work item's ``due_at`` to the nearest deadline of the case's running clocks;
    False when the case has no work item (yet)."""
    if session.scalar(select(WorkItem.case_id).where(WorkItem.case_id == case_id)) is None:
        return False
    due = (
        select(func.min(SlaClock.due_at))
        .where(SlaClock.case_id == case_id, SlaClock.state == sla_clock.RUNNING)
        .scalar_subquery()
    )
    session.execute(
        update(WorkItem)
        .where(WorkItem.case_id == case_id, WorkItem.due_at.is_distinct_from(due))
        .values(due_at=due)
        .execution_options(synchronize_session=False)
    )
    return True


# --- calendars ---------------------------------------------------------------------------


def calendar(session: Session, name: str) -> Calendar:
    """The calendar called ``name``; the built-in ``24x7`` unless stored otherwise."""
    row = session.get(SlaCalendar, name)
    if row is None:
        if name != ALWAYS:
            log.warning("unknown calendar; timing on 24x7", extra={"calendar": name})
        return ALWAYS_OPEN
    key = (name, row.version)
    if key not in _parsed:
        if len(_parsed) > 1000:
            _parsed.clear()
        _parsed[key] = parse_calendar(name, row.definition)
    return _parsed[key]


def calendar_names(session: Session) -> set[str]:
    return {ALWAYS, *session.scalars(select(SlaCalendar.name))}


def calendar_out(cal: Calendar, row: SlaCalendar | None) -> dict[str, Any]:
    return {
        "name": cal.name,
        **cal.to_dict(),
        "version": row.version if row else 0,
        "updated_by": row.updated_by if row else None,
        "updated_at": row.updated_at.isoformat() if row and row.updated_at else None,
        "builtin": row is None,
    }


def get_calendar(*, session: Session, principal: Principal, name: str) -> dict[str, Any]:
    require_authenticated(principal)
    row = session.get(SlaCalendar, name)
    if row is None and name != ALWAYS:
        raise NotFound(f"calendar {name} not found")
    return calendar_out(calendar(session, name), row)


def list_calendars(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    require_authenticated(principal)
    rows = {r.name: r for r in session.scalars(select(SlaCalendar).order_by(SlaCalendar.name))}
    out = [calendar_out(calendar(session, n), r) for n, r in rows.items()]
    if ALWAYS not in rows:
        out.append(calendar_out(ALWAYS_OPEN, None))
    return out


def put_calendar(
    *,
    session: Session,
    principal: Principal,
    name: str,
    definition: Any,
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Create or replace a calendar (admins); running clocks on it are rescheduled at once.

    ``precondition`` (If-Match / If-None-Match) is checked under the calendar's row lock."""
    require_roles(principal, ROLE_ADMIN, action="edit calendars")
    new = parse_calendar(name, definition)
    what = f"calendar {name}"
    row = preconditions.lock(session, SlaCalendar, name, precondition, what)
    old = calendar(session, name)
    values = {"definition": new.to_dict(), "updated_by": principal.user_id}
    created = row is None
    if created:
        row = preconditions.create(session, SlaCalendar, {"name": name, **values}, precondition, what)
    else:
        row.definition, row.updated_by = values["definition"], values["updated_by"]
        preconditions.bump(row, created)
    session.flush()
    at = db_now(session)
    clocks = session.scalars(
        select(SlaClock)
        .where(SlaClock.calendar == name, SlaClock.state == sla_clock.RUNNING)
        .order_by(SlaClock.id)
        .with_for_update()
    ).all()
    for clock in clocks:
        sla_clock.recalculate(clock, old, new, at)
        session.add(
            SlaHistory(
                clock_id=clock.id,
                case_id=clock.case_id,
                at=at,
                kind="recalculated",
                reason=f"calendar {name} was edited (version {row.version})",
                detail={
                    "due_at": clock.due_at.isoformat() if clock.due_at else None,
                    "elapsed_seconds": sla_clock.seconds(clock.elapsed),
                    "target_seconds": sla_clock.seconds(clock.target),
                },
            )
        )
    if clocks:
        for case_id in sorted({c.case_id for c in clocks}):
            sync_due(session, case_id)
    return {**calendar_out(new, row), "rescheduled_clocks": len(clocks)}


# --- policies ----------------------------------------------------------------------------


def policy_for(session: Session, case_type: str) -> dict[str, Any]:
    """The case type's policy, else the ``"*"`` policy, else the built-in one."""
    rows = {
        r.case_type: r.definition
        for r in session.scalars(
            select(SlaPolicy).where(SlaPolicy.case_type.in_([case_type, DEFAULT_POLICY]))
        )
    }
    return rows.get(case_type) or rows.get(DEFAULT_POLICY) or BUILTIN_POLICY


def _check_case_type(case_type: str) -> None:
    if case_type != DEFAULT_POLICY and not re.match(TYPE_KEY_PATTERN, case_type or ""):
        raise InvalidInput.from_field("case_type", 'must be a case type key or "*"')


def policy_out(case_type: str, row: SlaPolicy | None, definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_type": case_type,
        "policy": definition,
        "version": row.version if row else 0,
        "updated_by": row.updated_by if row else None,
        "inherited": row is None,
    }


def get_policy(*, session: Session, principal: Principal, case_type: str) -> dict[str, Any]:
    require_authenticated(principal)
    _check_case_type(case_type)
    return policy_out(case_type, session.get(SlaPolicy, case_type), policy_for(session, case_type))


def put_policy(
    *,
    session: Session,
    principal: Principal,
    case_type: str,
    definition: Any,
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Create or replace a case type's policy (admins); it applies to clocks started from now on.

    ``precondition`` is checked against the type's own policy (version 0 while it inherits one)
    under its row lock."""
    require_roles(principal, ROLE_ADMIN, action="edit SLA policies")
    _check_case_type(case_type)
    validate_policy(definition, calendar_names(session))
    what = f"SLA policy of {case_type}"
    row = preconditions.lock(session, SlaPolicy, case_type, precondition, what)
    created = row is None
    if created:
        values = {"case_type": case_type, "definition": definition, "updated_by": principal.user_id}
        row = preconditions.create(session, SlaPolicy, values, precondition, what)
    else:
        row.definition, row.updated_by = definition, principal.user_id
        preconditions.bump(row, created)
    session.flush()
    return policy_out(case_type, row, definition)


# --- seeding -----------------------------------------------------------------------------


def seed(session: Session, path: str | Path) -> dict[str, int]:
    """Store the file's calendars and policies that are not stored yet (edits made through the
    API win); a missing file seeds nothing. Safe to run from every replica at once."""
    file = Path(path)
    if not file.is_file():
        return {"calendars": 0, "policies": 0}
    doc = yaml.safe_load(file.read_text()) or {}
    added = {"calendars": 0, "policies": 0}
    for name, definition in (doc.get("calendars") or {}).items():
        cal = parse_calendar(str(name), definition)
        stmt = pg_insert(SlaCalendar).values(
            name=cal.name, definition=cal.to_dict(), version=1, updated_by="seed"
        )
        if session.execute(stmt.on_conflict_do_nothing().returning(SlaCalendar.name)).first():
            added["calendars"] += 1
    names = calendar_names(session)
    for case_type, definition in (doc.get("policies") or {}).items():
        _check_case_type(str(case_type))
        validate_policy(definition, names)
        stmt = pg_insert(SlaPolicy).values(
            case_type=str(case_type), definition=definition, version=1, updated_by="seed"
        )
        if session.execute(stmt.on_conflict_do_nothing().returning(SlaPolicy.case_type)).first():
            added["policies"] += 1
    return added
