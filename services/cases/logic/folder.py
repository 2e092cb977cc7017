"""What the case folder holds: notes (with history), tasks, parties and their relationships."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts import events as ev
from casekit.contracts.cases import NoteEdit, NoteIn, PartyAdd, RelationshipIn, TaskEdit, TaskIn
from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from casekit.outbox import EventWriter
from services.cases.logic.common import (
    OVERRIDE_ROLES,
    case_definition,
    case_for_change,
    load_case,
    now,
    record_change,
    require_reader,
)
from services.cases.logic.opening import find_or_create_party
from services.cases.models import CaseParty, Note, Party, PartyRelationship, Task
from services.cases.schemas import note_out, party_out, party_row_out, relationship_out, task_out


def add_note(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    note: NoteIn,
) -> dict[str, Any]:
    case = case_for_change(session, principal, case_id, expected_version)
    row = Note(
        id=str(uuid.uuid4()),
        body=note.body,
        visibility=note.visibility,
        author=principal.user_id,
        revision=1,
        history=[],
        created_at=now(),
        updated_at=now(),
    )
    case.notes.append(row)
    out = note_out(row)
    snap = record_change(
        session, principal, events, case, event_type=ev.NOTE_ADDED, changes={"note": out}, extra={"note": out}
    )
    return {"case": snap, "note": out}


def edit_note(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    note_id: str,
    edit: NoteEdit,
) -> dict[str, Any]:
    """Change a note's body or visibility; the previous revision is kept in its history."""
    case = case_for_change(session, principal, case_id, expected_version)
    row = next((n for n in case.notes if n.id == note_id), None)
    if row is None:
        raise NotFound(f"note {note_id} not found on this case")
    if row.author != principal.user_id and not principal.has_role(*OVERRIDE_ROLES):
        raise PermissionDenied("only the author or a supervisor may edit a note")
    given = edit.model_dump(exclude_unset=True, exclude_none=True)
    if not given:
        raise InvalidInput.from_field("body", "names nothing to change")
    previous = {  # the revision being replaced: who wrote it and when, then who replaced it
        "revision": row.revision,
        "body": row.body,
        "visibility": row.visibility,
        "written_at": row.updated_at.isoformat(),
        "written_by": row.history[-1]["edited_by"] if row.history else row.author,
    }
    row.history = [
        *(row.history or []),
        {**previous, "edited_by": principal.user_id, "edited_at": now().isoformat()},
    ]
    for field, value in given.items():
        setattr(row, field, value)
    row.revision += 1
    row.updated_at = now()
    out = note_out(row)
    changes = {"note_id": row.id, "before": {k: previous[k] for k in given}, "after": given}
    snap = record_change(
        session, principal, events, case, event_type=ev.NOTE_UPDATED, changes=changes, extra={"note": out}
    )
    return {"case": snap, "note": out}


def note_history(*, session: Session, principal: Principal, case_id: str, note_id: str) -> dict[str, Any]:
    case = load_case(session, principal, case_id)
    row = next((n for n in case.notes if n.id == note_id), None)
    if row is None:
        raise NotFound(f"note {note_id} not found on this case")
    return note_out(row, history=True)


def add_task(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    task: TaskIn,
) -> dict[str, Any]:
    """A discretionary task from the type's menu (by ``key``) or an ad-hoc task (by ``title``)."""
    case = case_for_change(session, principal, case_id, expected_version)
    due_at = task.due_at
    if task.key is not None:
        item = case_definition(session, case).task(task.key)
        if item is None:
            raise InvalidInput.from_field("key", f"{task.key!r} is not in the task menu of this case type")
        title, kind = task.title or item["title"], "discretionary"
        if due_at is None and item.get("due_in_hours"):
            due_at = now() + timedelta(hours=item["due_in_hours"])
    else:
        title, kind = task.title or "", "adhoc"
    row = Task(
        id=str(uuid.uuid4()),
        kind=kind,
        key=task.key,
        title=title,
        stage=case.stage,
        required=False,
        assignee=task.assignee,
        due_at=due_at,
        created_by=principal.user_id,
        created_at=now(),
    )
    case.tasks.append(row)
    out = task_out(row)
    snap = record_change(
        session, principal, events, case, event_type=ev.TASK_ADDED, changes={"task": out}, extra={"task": out}
    )
    return {"case": snap, "task": out}


def edit_task(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    task_id: str,
    edit: TaskEdit,
) -> dict[str, Any]:
    """Assign, reschedule, complete (``done: true``) or reopen a task or checklist item."""
    case = case_for_change(session, principal, case_id, expected_version)
    row = next((t for t in case.tasks if t.id == task_id), None)
    if row is None:
        raise NotFound(f"task {task_id} not found on this case")
    given = edit.model_dump(exclude_unset=True)
    if not given:
        raise InvalidInput.from_field("body", "names nothing to change")
    before = task_out(row)
    if "assignee" in given:
        row.assignee = given["assignee"]
    if "due_at" in given:
        row.due_at = given["due_at"]
    completed = False
    if given.get("done") is True:
        if row.done_at is not None:
            raise Conflict("the task is already done")
        row.done_at, row.done_by, completed = now(), principal.user_id, True
    elif given.get("done") is False:
        row.done_at = row.done_by = None
    out = task_out(row)
    changes = {
        "task_id": row.id,
        "before": {k: v for k, v in before.items() if out[k] != v},
        "after": {k: v for k, v in out.items() if before[k] != v},
    }
    event_type = ev.TASK_COMPLETED if completed else ev.TASK_UPDATED
    snap = record_change(
        session, principal, events, case, event_type=event_type, changes=changes, extra={"task": out}
    )
    return {"case": snap, "task": out}


def add_party(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: PartyAdd,
) -> dict[str, Any]:
    """Put a party on the case in a role: an existing party by id, or found again by email."""
    case = case_for_change(session, principal, case_id, expected_version)
    if request.party_id is not None:
        party = session.get(Party, request.party_id)
        if party is None:
            raise InvalidInput.from_field("party_id", "no such party")
    else:
        assert request.party is not None
        party = find_or_create_party(session=session, data=request.party)
        session.flush()
    if any(cp.party_id == party.id and cp.role == request.role for cp in case.parties):
        raise Conflict(f"the party is already on the case as {request.role}")
    link = CaseParty(party=party, party_id=party.id, role=request.role, created_at=now())
    case.parties.append(link)
    out = party_out(link)
    snap = record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.PARTY_ADDED,
        changes={"party": out},
        extra={"party": out},
    )
    return {"case": snap, "party": out}


def find_parties(
    *,
    session: Session,
    principal: Principal,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Parties by exact email or phone, or by name prefix, to put the same party on another case."""
    require_reader(principal)
    stmt = select(Party).order_by(Party.name, Party.id).limit(max(1, min(limit, 100)))
    if email:
        stmt = stmt.where(Party.email_key == email.lower())
    elif phone:
        stmt = stmt.where(Party.phones.contains([phone]))
    elif name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Party.name.ilike(f"{escaped}%"))
    else:
        raise InvalidInput.from_field("email", "give email, phone or name")
    return [party_row_out(p) for p in session.scalars(stmt)]


def add_relationship(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: RelationshipIn,
) -> dict[str, Any]:
    """Record that one party of the case is ``kind`` of another (e.g. representative_of)."""
    case = case_for_change(session, principal, case_id, expected_version)
    on_case = {cp.party_id for cp in case.parties}
    for field in ("from_party_id", "to_party_id"):
        if getattr(request, field) not in on_case:
            raise InvalidInput.from_field(field, "is not a party of this case")
    if request.from_party_id == request.to_party_id:
        raise InvalidInput.from_field("to_party_id", "a party cannot be related to itself")
    row = PartyRelationship(id=str(uuid.uuid4()), created_at=now(), **request.model_dump())
    case.relationships.append(row)
    out = relationship_out(row)
    snap = record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.RELATIONSHIP_ADDED,
        changes={"relationship": out},
        extra={"relationship": out},
    )
    return {"case": snap, "relationship": out}
