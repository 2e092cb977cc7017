"""Links between cases, and merging one case into another."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts import events as ev
from casekit.contracts.cases import LinkIn, MergeIn
from casekit.contracts.ids import is_uuid
from casekit.errors import Conflict, InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.cases.definitions import MERGED
from services.cases.logic.common import case_for_change, load_case, now, record_change, require_writer
from services.cases.logic.process import _close
from services.cases.models import Case, CaseLink, CaseParty, Note, PartyRelationship
from services.cases.schemas import link_out


def _lock_in_order(session: Session, *case_ids: str) -> None:
    """Lock both cases' rows in id order, so two changes touching the same pair cannot deadlock."""
    ids = sorted({c for c in case_ids if is_uuid(c)})
    session.execute(select(Case.id).where(Case.id.in_(ids)).order_by(Case.id).with_for_update())


def _other_case(session: Session, principal: Principal, case_id: str, field: str, this: Case) -> Case:
    if case_id == this.id:
        raise InvalidInput.from_field(field, "a case cannot be linked to itself")
    try:
        return load_case(session, principal, case_id, for_update=True)
    except NotFound as exc:  # name the field instead of the whole request
        raise InvalidInput.from_field(field, "no such case") from exc


def _link(
    session: Session, principal: Principal, case: Case, target: Case, kind: str, *, one_per_pair: bool = True
) -> CaseLink:
    """Add a link; two cases have one link between them (a merge adds its own beside it)."""
    exists = session.scalars(
        select(CaseLink).where(
            ((CaseLink.case_id == case.id) & (CaseLink.target_id == target.id))
            | ((CaseLink.case_id == target.id) & (CaseLink.target_id == case.id))
        )
    ).first()
    if exists is not None and one_per_pair:
        raise Conflict(f"the cases are already linked ({exists.kind})")
    row = CaseLink(
        id=str(uuid.uuid4()),
        case_id=case.id,
        target_id=target.id,
        kind=kind,
        created_by=principal.user_id,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def add_link(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: LinkIn,
) -> dict[str, Any]:
    """Link the case to another; both cases get a new version and a ``case_linked`` event."""
    require_writer(principal)
    _lock_in_order(session, case_id, request.target_id)
    case = case_for_change(session, principal, case_id, expected_version)
    target = _other_case(session, principal, request.target_id, "target_id", case)
    row = _link(session, principal, case, target, request.kind)
    mine, theirs = link_out(row, case.id), link_out(row, target.id)
    snap = record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.CASE_LINKED,
        changes={"link": mine},
        extra={"link": mine},
    )
    record_change(
        session,
        principal,
        events,
        target,
        event_type=ev.CASE_LINKED,
        changes={"link": theirs},
        extra={"link": theirs},
    )
    return {"case": snap, "link": mine}


def merge_cases(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    case_id: str,
    expected_version: int | None,
    request: MergeIn,
) -> dict[str, Any]:
    """Merge the case into ``request.into``: its notes, parties and their relationships move to
    the survivor, it is closed as ``merged`` with a ``merged_into`` link. Documents belong to the
    documents service, which moves them on the survivor's ``case_merged`` event."""
    require_writer(principal)
    _lock_in_order(session, case_id, request.into)
    source = case_for_change(session, principal, case_id, expected_version)
    survivor = _other_case(session, principal, request.into, "into", source)
    if survivor.status != "open":
        raise Conflict(f"case {survivor.reference} is closed; reopen it before merging into it")
    moved_notes = [n.id for n in source.notes]
    session.execute(
        update(Note).where(Note.case_id == source.id).values(case_id=survivor.id, moved_from=source.id),
        execution_options={"synchronize_session": "fetch"},
    )
    on_survivor = {(cp.party_id, cp.role) for cp in survivor.parties}
    moved_parties = [
        {"party_id": cp.party_id, "role": cp.role}
        for cp in source.parties
        if (cp.party_id, cp.role) not in on_survivor
    ]
    if moved_parties:
        session.execute(
            pg_insert(CaseParty).values(
                [{"case_id": survivor.id, **p, "created_at": now()} for p in moved_parties]
            )
        )
    session.execute(delete(CaseParty).where(CaseParty.case_id == source.id))
    session.execute(
        update(PartyRelationship).where(PartyRelationship.case_id == source.id).values(case_id=survivor.id),
        execution_options={"synchronize_session": "fetch"},
    )
    for case in (source, survivor):
        session.expire(case, ["notes", "parties", "relationships"])
    _link(session, principal, source, survivor, "merged_into", one_per_pair=False)
    merge = {
        "source_case_id": source.id,
        "survivor_case_id": survivor.id,
        "moved_notes": moved_notes,
        "moved_parties": moved_parties,
        "reason": request.reason,
    }
    snap = _close(
        session,
        principal,
        events,
        source,
        MERGED,
        request.reason,
        [],
        extra={"merge": {**merge, "role": "source"}},
    )
    survivor_snap = record_change(
        session,
        principal,
        events,
        survivor,
        event_type=ev.CASE_MERGED,
        changes={"merge": {**merge, "role": "survivor"}},
        extra={"merge": {**merge, "role": "survivor"}},
    )
    return {"case": snap, "survivor": survivor_snap, "merge": merge}
