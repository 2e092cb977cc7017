"""Wire format of cases: ORM rows in, JSON-safe dicts out.

``case_out`` is the snapshot: what ``get_case`` returns and what every cases event carries as
``data.case``. ``case_summary`` is the lighter shape of list pages (no notes, tasks or links).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.cases.definitions import Definition
from services.cases.models import (
    AuditEntry,
    Case,
    CaseLink,
    CaseParty,
    Note,
    Party,
    PartyRelationship,
    Task,
)

INVERSE_LINK = {
    "related": "related",
    "parent_of": "child_of",
    "child_of": "parent_of",
    "duplicate_of": "duplicated_by",
    "merged_into": "merged_from",
}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def party_row_out(p: Party) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "emails": list(p.emails or []),
        "phones": list(p.phones or []),
        "address": p.address,
    }


def party_out(cp: CaseParty) -> dict[str, Any]:
    """A party as it is on a case: with its role there."""
    return {**party_row_out(cp.party), "role": cp.role}


def relationship_out(r: PartyRelationship) -> dict[str, Any]:
    return {"id": r.id, "from_party_id": r.from_party_id, "to_party_id": r.to_party_id, "kind": r.kind}


def note_out(n: Note, *, history: bool = False) -> dict[str, Any]:
    out = {
        "id": n.id,
        "body": n.body,
        "visibility": n.visibility,
        "author": n.author,
        "revision": n.revision,
        "created_at": iso(n.created_at),
        "updated_at": iso(n.updated_at),
        "moved_from": n.moved_from,
    }
    if history:
        out["history"] = list(n.history or [])
    return out


def task_out(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "key": t.key,
        "title": t.title,
        "stage": t.stage,
        "required": t.required,
        "assignee": t.assignee,
        "due_at": iso(t.due_at),
        "done_at": iso(t.done_at),
        "done_by": t.done_by,
        "created_at": iso(t.created_at),
    }


def link_out(link: CaseLink, case_id: str) -> dict[str, Any]:
    if link.case_id == case_id:
        return {"id": link.id, "kind": link.kind, "case_id": link.target_id}
    return {"id": link.id, "kind": INVERSE_LINK[link.kind], "case_id": link.case_id}


def sla_out(case: Case, definition: Definition) -> dict[str, Any] | None:
    hours = definition.sla_hours(case.priority, case.stage)
    if hours is None:
        return None
    return {"priority": case.priority, "stage": case.stage, "target_hours": hours}


def case_summary(case: Case, definition: Definition) -> dict[str, Any]:
    return {
        "id": case.id,
        "reference": case.reference,
        "type": case.type_key,
        "type_version": case.type_version,
        "title": case.title,
        "description": case.description,
        "priority": case.priority,
        "status": case.status,
        "stage": case.stage,
        "channel": case.channel,
        "data": case.data,
        "version": case.version,
        "created_by": case.created_by,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "team": case.team,
        "restricted": bool(case.restricted),
        "stage_entered_at": iso(case.stage_entered_at),
        "due_at": iso(case.due_at),
        "closed_at": iso(case.closed_at),
        "resolution": case.resolution,
        "retention_days": definition.retention_days,
        "sla": sla_out(case, definition),
        "milestones": dict(case.milestones or {}),
        "parties": [party_out(cp) for cp in case.parties],
    }


def case_out(case: Case, definition: Definition, links: list[CaseLink]) -> dict[str, Any]:
    return {
        **case_summary(case, definition),
        "relationships": [relationship_out(r) for r in case.relationships],
        "links": [link_out(link, case.id) for link in links],
        "notes": [note_out(n) for n in case.notes],
        "tasks": [task_out(t) for t in case.tasks],
    }


TIMELINE_FIELDS = ("title", "stage", "priority", "status")


def timeline_item(e: AuditEntry) -> dict[str, Any]:
    """One change on the case's timeline; the audit entry it comes from is ``seq``."""
    detail = dict(e.changes or {})
    if "after" in detail and isinstance(detail["after"], dict):  # case_opened: the whole snapshot
        detail = {k: detail["after"].get(k) for k in TIMELINE_FIELDS}
    return {
        "seq": e.seq,
        "at": iso(e.at),
        "actor_id": e.actor_id,
        "action": e.action,
        "detail": detail,
    }
