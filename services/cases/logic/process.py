"""The case's process: field changes, stage transitions with roles and overrides, close, reopen."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts import events as ev
from casekit.contracts.cases import CaseUpdate, CloseIn, ReopenIn, TransitionIn
from casekit.errors import Conflict, InvalidInput, PermissionDenied
from casekit.outbox import EventWriter
from services.cases.definitions import MERGED
from services.cases.logic.common import (
    OVERRIDE_ROLES,
    case_definition,
    case_for_change,
    diff,
    now,
    record_change,
    set_due,
)
from services.cases.logic.opening import checklist_tasks
from services.cases.models import Case

EDITABLE = ("title", "description", "priority", "data", "team", "restricted")


def update_case(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    patch: CaseUpdate,
) -> dict[str, Any]:
    """Change fields of an open case; custom data is validated against its pinned type version."""
    case = case_for_change(session, principal, case_id, expected_version)
    given = patch.model_dump(mode="json", exclude_unset=True)
    if not given:
        raise InvalidInput.from_field("body", "names no field to change")
    if "data" in given:
        case_definition(session, case).check_data(given["data"])
    if ("team" in given or "restricted" in given) and not principal.has_role(*OVERRIDE_ROLES):
        raise PermissionDenied("only supervisors may change a case's team or restriction")
    before = {k: getattr(case, k) for k in given}
    for field, value in given.items():
        setattr(case, field, value)
    if "priority" in given:
        set_due(case, case_definition(session, case))
    changes = diff(before, given)
    return record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.CASE_UPDATED,
        changes=changes,
        extra={"changes": changes},
    )


def open_required_items(case: Case) -> list[str]:
    """Keys of the current stage's required checklist items not yet done."""
    return [
        t.key or t.title
        for t in case.tasks
        if t.kind == "checklist" and t.stage == case.stage and t.required and t.done_at is None
    ]


def check_exit(case: Case, principal: Principal, reason: str | None, what: str) -> list[str]:
    """Refuse leaving a stage with required items open, unless a supervisor gives a reason;
    return the items so skipped."""
    missing = open_required_items(case)
    if not missing:
        return []
    if principal.has_role(*OVERRIDE_ROLES) and reason:
        return missing
    raise Conflict(
        f"cannot {what}: required checklist items of stage {case.stage!r} are not done: {', '.join(missing)}"
    )


def transition(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: TransitionIn,
) -> dict[str, Any]:
    """Move the case to another stage.

    A transition the type defines is taken by the roles it names. Anything else (a jump, a
    reversal, or a defined transition the caller's role may not take) is an override: only
    supervisors and admins, and only with a written reason, which is audited.
    """
    case = case_for_change(session, principal, case_id, expected_version)
    definition = case_definition(session, case)
    to = request.to
    if to not in definition.stages:
        raise InvalidInput.from_field(
            "to", f"{to!r} is not a stage of {definition.key} v{definition.version}"
        )
    if to == case.stage:
        raise Conflict(f"the case is already in stage {to!r}")
    defined = definition.transition(case.stage, to)
    allowed = defined is not None and principal.has_role(*defined["roles"])
    override = not allowed
    if override:
        if not principal.has_role(*OVERRIDE_ROLES):
            if defined is None:
                raise PermissionDenied(f"{case.stage} -> {to} is not a transition of this case type")
            raise PermissionDenied(f"your role may not take {case.stage} -> {to}")
        if not request.reason:
            raise InvalidInput.from_field(
                "reason", f"a supervisor override ({case.stage} -> {to}) needs a reason"
            )
    skipped = check_exit(case, principal, request.reason, f"leave stage {case.stage!r}")
    from_stage = case.stage
    case.stage = to
    case.stage_entered_at = now()
    have = {t.key for t in case.tasks if t.kind == "checklist" and t.stage == to}
    for task in checklist_tasks(definition, to, principal.user_id):
        if task.key not in have:
            case.tasks.append(task)
    set_due(case, definition)
    detail = {"from_stage": from_stage, "to_stage": to, "override": override, "reason": request.reason}
    changes = {"stage": {"before": from_stage, "after": to}, **detail}
    if skipped:
        changes["skipped_checklist"] = skipped
    return record_change(
        session, principal, events, case, event_type=ev.CASE_TRANSITIONED, changes=changes, extra=detail
    )


def close_case(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: CloseIn,
) -> dict[str, Any]:
    """Close with a resolution code of the type; the current stage's required items must be done."""
    case = case_for_change(session, principal, case_id, expected_version)
    definition = case_definition(session, case)
    if request.resolution not in definition.resolutions:
        raise InvalidInput.from_field(
            "resolution", f"must be one of {', '.join(definition.resolutions)} (the type's resolution codes)"
        )
    skipped = check_exit(case, principal, request.reason, "close the case")
    return _close(session, principal, events, case, request.resolution, request.reason, skipped)


def _close(
    session: Session,
    principal: Principal,
    events: EventWriter,
    case: Case,
    resolution: str,
    reason: str | None,
    skipped: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    case.status, case.resolution, case.closed_at, case.due_at = "closed", resolution, now(), None
    changes: dict[str, Any] = {
        "status": {"before": "open", "after": "closed"},
        "resolution": resolution,
        "reason": reason,
    }
    if skipped:
        changes["skipped_checklist"] = skipped
    event_type = ev.CASE_MERGED if resolution == MERGED else ev.CASE_CLOSED
    return record_change(
        session,
        principal,
        events,
        case,
        event_type=event_type,
        changes={**changes, **(extra or {})},
        extra={"resolution": resolution, "reason": reason, **(extra or {})},
    )


def reopen_case(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: ReopenIn,
) -> dict[str, Any]:
    case = case_for_change(session, principal, case_id, expected_version, allow_closed=True)
    if case.status != "closed":
        raise Conflict(f"case {case.reference} is not closed")
    if case.resolution == MERGED:
        raise Conflict(f"case {case.reference} was merged into another case; work on that one")
    before = {
        "resolution": case.resolution,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }
    case.status, case.resolution, case.closed_at = "open", None, None
    case.stage_entered_at = now()
    set_due(case, case_definition(session, case))
    changes = {"status": {"before": "closed", "after": "open"}, "reason": request.reason, "before": before}
    return record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.CASE_REOPENED,
        changes=changes,
        extra={"reason": request.reason},
    )
