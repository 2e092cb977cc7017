"""Opening a case: references, parties found again by email, the first stage's checklist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts import events as ev
from casekit.contracts.cases import CaseCreate, PartyIn
from casekit.errors import InvalidInput
from casekit.outbox import EventWriter
from services.cases import audit
from services.cases.definitions import Definition
from services.cases.logic.common import (
    definition_of,
    now,
    reach_milestones,
    require_writer,
    set_due,
    snapshot,
)
from services.cases.logic.types import current_type
from services.cases.models import Case, CaseParty, Party, ReferenceCounter, Task


def next_reference(*, session: Session, prefix: str, now: datetime | None = None) -> str:
    """Gapless per prefix and year: the counter row stays locked until commit."""
    year = (now or datetime.now(UTC)).year
    stmt = (
        pg_insert(ReferenceCounter)
        .values(prefix=prefix, year=year, last=1)
        .on_conflict_do_update(index_elements=["prefix", "year"], set_={"last": ReferenceCounter.last + 1})
        .returning(ReferenceCounter.last)
    )
    number = session.execute(stmt).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


def find_party(*, session: Session, email: str | None = None, phone: str | None = None) -> Party | None:
    if email:
        return session.scalars(
            select(Party).where(Party.email_key == email.lower()).order_by(Party.created_at).limit(1)
        ).first()
    if phone:
        return session.scalars(
            select(Party).where(Party.phones.contains([phone])).order_by(Party.created_at).limit(1)
        ).first()
    return None


def find_or_create_party(*, session: Session, data: PartyIn) -> Party:
    """The party with this email (or, without one, this phone), else a new party."""
    existing = find_party(session=session, email=data.email, phone=None if data.email else data.phone)
    if existing is not None:
        if data.phone and data.phone not in (existing.phones or []):
            existing.phones = [*(existing.phones or []), data.phone]
        if data.address and not existing.address:
            existing.address = data.address.model_dump()
        return existing
    party = Party(
        id=str(uuid.uuid4()),
        kind=data.kind,
        name=data.name,
        emails=[str(data.email)] if data.email else [],
        phones=[data.phone] if data.phone else [],
        email_key=data.email.lower() if data.email else None,
        address=data.address.model_dump() if data.address else None,
    )
    session.add(party)
    return party


def checklist_tasks(definition: Definition, stage: str, created_by: str | None) -> list[Task]:
    return [
        Task(
            id=str(uuid.uuid4()),
            kind="checklist",
            key=item["key"],
            title=item["title"],
            stage=stage,
            required=bool(item.get("required")),
            created_by=created_by,
        )
        for item in definition.checklist(stage)
    ]


def find_by_idempotency_key(*, session: Session, principal: Principal, key: str) -> Case | None:
    return session.scalars(
        select(Case).where(Case.created_by == principal.user_id, Case.idempotency_key == key)
    ).first()


def open_case(
    *,
    session: Session,
    principal: Principal,
    data: CaseCreate,
    events: EventWriter,
    idempotency_key: str | None = None,
) -> tuple[Case, bool]:
    """Open a case; with a key already used by this principal, return that case instead."""
    require_writer(principal)
    if idempotency_key:
        existing = find_by_idempotency_key(session=session, principal=principal, key=idempotency_key)
        if existing is not None:
            return existing, False
    return create_case(
        session=session, principal=principal, data=data, events=events, idempotency_key=idempotency_key
    ), True


def create_case(
    *,
    session: Session,
    principal: Principal,
    data: CaseCreate,
    events: EventWriter,
    idempotency_key: str | None = None,
) -> Case:
    """Insert the case with its first stage's checklist, its audit entry and ``case_opened``."""
    ctype = current_type(session=session, key=data.type)
    if ctype is None:
        raise InvalidInput.from_field("type", f"unknown case type {data.type!r}")
    definition = definition_of(session, ctype.key, ctype.version)
    definition.check_data(data.data)
    party = find_or_create_party(session=session, data=data.customer) if data.customer else None
    stage = definition.first_stage
    case = Case(
        id=str(uuid.uuid4()),
        type_key=ctype.key,
        type_version=ctype.version,
        title=data.title,
        description=data.description,
        priority=data.priority.value,
        status="open",
        stage=stage,
        channel=data.channel,
        data=data.data,
        created_by=principal.user_id,
        idempotency_key=idempotency_key,
        version=1,
        team=data.team if data.team is not None else definition.raw.get("default_team"),
        restricted=data.restricted,
        stage_entered_at=now(),
        milestones={},
    )
    case.tasks = checklist_tasks(definition, stage, principal.user_id)
    case.notes = []
    case.relationships = []
    set_due(case, definition)
    reach_milestones(case, definition)
    if party is not None:
        case.parties.append(CaseParty(party=party, role="customer"))
    # Number the case last: the counter row stays locked until commit, so everything
    # that can fail or take time happens before it (references stay gapless).
    with session.no_autoflush:
        case.reference = next_reference(session=session, prefix=ctype.prefix)
    session.add(case)
    session.flush()
    snap = snapshot(session, case)
    audit.append(
        session=session,
        case_id=case.id,
        principal=principal,
        action=ev.CASE_OPENED,
        changes={"after": snap},
        first=True,
    )
    events.emit(session, ev.CASE_OPENED, {"case": snap}, case_id=case.id, case_version=case.version)
    return case
