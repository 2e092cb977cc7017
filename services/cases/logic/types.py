"""Case types: load a definition as a new version, read them, move open cases to a newer version."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, Principal, require_roles
from casekit.contracts import events as ev
from casekit.contracts.cases import TypeMigrationIn
from casekit.errors import InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.cases.definitions import Definition, validate_definition
from services.cases.logic.common import definition_of, record_change, require_reader, set_due
from services.cases.models import Case, CaseType, Task


def load_case_type(*, session: Session, definition: Any) -> CaseType:
    """Store ``definition`` as the next version of its case type (unchanged: no new version)."""
    definition = validate_definition(definition)
    current = current_type(session=session, key=definition["key"])
    if current is not None and current.definition == definition:
        return current
    ctype = CaseType(
        key=definition["key"],
        version=(current.version + 1) if current else 1,
        name=definition["name"],
        prefix=definition["prefix"],
        definition=definition,
    )
    session.add(ctype)
    session.flush()
    return ctype


def current_type(*, session: Session, key: str) -> CaseType | None:
    return session.scalars(
        select(CaseType).where(CaseType.key == key).order_by(CaseType.version.desc()).limit(1)
    ).first()


def get_type(*, session: Session, principal: Principal, key: str, version: int | None = None) -> CaseType:
    require_reader(principal)
    ctype = session.get(CaseType, (key, version)) if version else current_type(session=session, key=key)
    if ctype is None:
        raise NotFound(f"case type {key} not found")
    return ctype


def list_types(*, session: Session) -> list[CaseType]:
    latest = select(CaseType.key, func.max(CaseType.version).label("v")).group_by(CaseType.key).subquery()
    return list(
        session.scalars(
            select(CaseType)
            .join(latest, (CaseType.key == latest.c.key) & (CaseType.version == latest.c.v))
            .order_by(CaseType.key)
        )
    )


def plan_case(case: Case, target: Definition, stage_map: dict[str, str]) -> dict[str, Any]:
    """What moving one open case to ``target`` would change, and what stops it."""
    changes: list[str] = [f"type_version {case.type_version} -> {target.version}"]
    problems: list[dict[str, str]] = []
    stage = stage_map.get(case.stage, case.stage)
    if stage not in target.stages:
        problems.append(
            {
                "field": "stage",
                "message": f"stage {case.stage!r} is not in v{target.version}; map it in stage_map",
            }
        )
    elif stage != case.stage:
        changes.append(f"stage {case.stage} -> {stage}")
    for error in target.data_errors(case.data or {}):
        problems.append(error)
    have = {t.key for t in case.tasks if t.kind == "checklist" and t.stage in (case.stage, stage)}
    added = [item["key"] for item in target.checklist(stage) if item["key"] not in have]
    if added:
        changes.append(f"checklist items added: {', '.join(added)}")
    return {
        "case_id": case.id,
        "reference": case.reference,
        "from_version": case.type_version,
        "to_version": target.version,
        "stage": stage,
        "changes": changes,
        "problems": problems,
        "checklist_added": added,
    }


def migrate_open_cases(
    *, session: Session, principal: Principal, events: EventWriter, key: str, request: TypeMigrationIn
) -> dict[str, Any]:
    """Move the open cases of type ``key`` to a newer version; a dry run only reports, per case."""
    require_roles(principal, ROLE_ADMIN, action="migrate case types")
    latest = current_type(session=session, key=key)
    if latest is None:
        raise NotFound(f"case type {key} not found")
    version = request.to_version or latest.version
    target = definition_of(session, key, version) if version <= latest.version else None
    if target is None:
        raise InvalidInput.from_field("to_version", f"case type {key} has no version {version}")
    cases = session.scalars(
        select(Case)
        .where(Case.type_key == key, Case.status == "open", Case.type_version < version)
        .order_by(Case.created_at, Case.id)
        .with_for_update()
    ).all()
    plans = [plan_case(c, target, request.stage_map) for c in cases]
    migrated = 0
    if not request.dry_run:
        for case, plan in zip(cases, plans, strict=True):
            if plan["problems"]:
                continue
            before = {"type_version": case.type_version, "stage": case.stage}
            required = {i["key"]: bool(i.get("required")) for i in target.checklist(plan["stage"])}
            for t in case.tasks:  # the stage's checklist follows a renamed stage and the new template
                if t.kind == "checklist" and t.stage in (case.stage, plan["stage"]):
                    t.stage = plan["stage"]
                    t.required = required.get(t.key or "", False)
            case.stage = plan["stage"]
            case.type_version = version
            for item in target.checklist(case.stage):
                if item["key"] in plan["checklist_added"]:
                    case.tasks.append(
                        Task(
                            id=str(uuid.uuid4()),
                            kind="checklist",
                            key=item["key"],
                            title=item["title"],
                            stage=case.stage,
                            required=bool(item.get("required")),
                            created_by=principal.user_id,
                        )
                    )
            set_due(case, target)
            changes = {
                "migration": {"before": before, "after": {"type_version": version, "stage": case.stage}},
                "checklist_added": plan["checklist_added"],
            }
            record_change(
                session,
                principal,
                events,
                case,
                event_type=ev.CASE_UPDATED,
                changes=changes,
                extra={"changes": changes},
            )
            migrated += 1
    return {
        "type": key,
        "to_version": version,
        "dry_run": request.dry_run,
        "cases": plans,
        "migrated": migrated,
        "blocked": sum(1 for p in plans if p["problems"]),
    }
