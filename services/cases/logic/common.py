"""What every use case shares: roles, loading a case for a read or a change, recording a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    ROLE_SYSTEM,
    Principal,
    require_authenticated,
    require_roles,
)
from casekit.contracts.ids import is_uuid
from casekit.contracts.visibility import can_see
from casekit.errors import Conflict, InvalidInput, NotFound, StaleVersion
from casekit.outbox import EventWriter
from services.cases import audit
from services.cases.definitions import Definition, holds
from services.cases.models import Case, CaseLink, CaseType
from services.cases.schemas import case_out

WRITER_ROLES = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
OVERRIDE_ROLES = (ROLE_SUPERVISOR, ROLE_ADMIN)
INTAKE_ROLES = (ROLE_SYSTEM, ROLE_ADMIN, ROLE_SUPERVISOR, ROLE_AGENT)

require_reader = require_authenticated

_definitions: dict[tuple[str, str, int], Definition] = {}


def require_writer(principal: Principal) -> None:
    require_roles(principal, *WRITER_ROLES, action="change cases")


def now() -> datetime:
    return datetime.now(UTC)


def definition_of(session: Session, key: str, version: int) -> Definition:
    """A stored type version (immutable once stored, so cached per database)."""
    cache_key = (str(session.get_bind().url), key, version)
    found = _definitions.get(cache_key)
    if found is None:
        row = session.get(CaseType, (key, version))
        if row is None:
            raise NotFound(f"case type {key} v{version} not found")
        found = _definitions[cache_key] = Definition(key, version, row.definition)
    return found


def case_definition(session: Session, case: Case) -> Definition:
    return definition_of(session, case.type_key, case.type_version)


def links_of(session: Session, case_id: str) -> list[CaseLink]:
    return list(
        session.scalars(
            select(CaseLink)
            .where(or_(CaseLink.case_id == case_id, CaseLink.target_id == case_id))
            .order_by(CaseLink.created_at, CaseLink.id)
        )
    )


def snapshot(session: Session, case: Case) -> dict[str, Any]:
    """The case as ``get_case`` returns it and every event carries it."""
    return case_out(case, case_definition(session, case), links_of(session, case.id))


def load_case(session: Session, principal: Principal, case_id: str, *, for_update: bool = False) -> Case:
    """The case, if this principal may see it; an invisible case is not found."""
    require_reader(principal)
    case = None
    if is_uuid(case_id):
        stmt = select(Case).where(Case.id == case_id)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        case = session.scalars(stmt).first()
    if case is None or not can_see(principal, team=case.team, restricted=bool(case.restricted)):
        raise NotFound(f"case {case_id} not found")
    return case


def case_for_change(
    session: Session,
    principal: Principal,
    case_id: str,
    expected_version: int | None,
    *,
    allow_closed: bool = False,
) -> Case:
    """Lock the case for a change that expects ``expected_version``; closed cases refuse edits."""
    require_writer(principal)
    case = load_case(session, principal, case_id, for_update=True)
    check_version(case, expected_version)
    if case.status == "closed" and not allow_closed:
        raise Conflict(f"case {case.reference} is closed; reopen it first")
    return case


def check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is None:
        raise InvalidInput.from_field("expected_version", "every change must state the version it expects")
    if case.version != expected_version:
        raise StaleVersion(f"case {case.reference} is at version {case.version}, not {expected_version}")


def set_due(case: Case, definition: Definition) -> None:
    hours = definition.sla_hours(case.priority, case.stage)
    start = case.stage_entered_at or now()
    case.due_at = start + timedelta(hours=hours) if hours is not None and case.status == "open" else None


def reach_milestones(case: Case, definition: Definition) -> list[str]:
    """Record milestones whose condition now holds for the first time; return their keys."""
    done = {t.key for t in case.tasks if t.done_at is not None and t.key}
    reached = dict(case.milestones or {})
    new = []
    for m in definition.milestones:
        if m["key"] not in reached and holds(
            m["when"], data=case.data or {}, stage=case.stage, done_tasks=done
        ):
            reached[m["key"]] = now().isoformat()
            new.append(m["key"])
    if new:
        case.milestones = reached
    return new


def record_change(
    session: Session,
    principal: Principal,
    events: EventWriter,
    case: Case,
    *,
    event_type: str,
    changes: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bump the case's version and write its audit entry and its event; return the snapshot."""
    definition = case_definition(session, case)
    reached = reach_milestones(case, definition)
    if reached:
        changes = {**changes, "milestones_reached": reached}
    case.version = case.version + 1
    case.updated_at = now()
    session.flush()
    snap = snapshot(session, case)
    audit.append(session, case_id=case.id, principal=principal, action=event_type, changes=changes)
    events.emit(
        session, event_type, {"case": snap, **(extra or {})}, case_id=case.id, case_version=case.version
    )
    return snap


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: {"before": x, "after": y}}`` for the fields that changed."""
    return {k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v}
