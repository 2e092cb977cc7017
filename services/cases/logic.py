"""Business rules of the cases service, as plain functions over a session."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import (
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    Principal,
    require_authenticated,
    require_roles,
)
from casekit.contracts import events as ev
from casekit.contracts.cases import CASE_STATUSES, TYPE_KEY_PATTERN, CaseCreate, PartyIn
from casekit.contracts.ids import is_uuid
from casekit.errors import InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.cases import audit
from services.cases.models import AuditEntry, Case, CaseParty, CaseType, Party, ReferenceCounter
from services.cases.schemas import case_out

WRITER_ROLES = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
PREFIX_PATTERN = r"^[A-Z]{2,8}$"

CASE_TYPE_SCHEMA = {
    "type": "object",
    "required": ["key", "name", "prefix"],
    "additionalProperties": True,
    "properties": {
        "key": {"type": "string", "pattern": TYPE_KEY_PATTERN},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "prefix": {"type": "string", "pattern": PREFIX_PATTERN},
        "stages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string", "pattern": TYPE_KEY_PATTERN}},
            },
        },
        "data_schema": {"type": "object"},
    },
}


def _schema_errors(validator: Draft202012Validator, instance: Any, prefix: str) -> list[dict[str, str]]:
    errors = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path)
        errors.append({"field": f"{prefix}.{path}" if path else prefix, "message": err.message})
    return errors


def require_writer(principal: Principal) -> None:
    require_roles(principal, *WRITER_ROLES, action="change cases")


require_reader = require_authenticated


# --- case types -------------------------------------------------------------------


def validate_definition(definition: Any) -> dict[str, Any]:
    if not isinstance(definition, dict):
        raise InvalidInput.from_field("definition", "must be a mapping")
    errors = _schema_errors(Draft202012Validator(CASE_TYPE_SCHEMA), definition, "definition")
    schema = definition.get("data_schema")
    if isinstance(schema, dict):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            errors.append({"field": "definition.data_schema", "message": exc.message})
    if errors:
        raise InvalidInput("invalid case type definition", errors)
    return definition


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


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def data_validator(ctype: CaseType) -> Draft202012Validator | None:
    """The compiled validator of a case type version's custom data (compiled once per process)."""
    schema = ctype.definition.get("data_schema")
    if not schema:
        return None
    return _compiled(json.dumps(schema, sort_keys=True))


def current_type(*, session: Session, key: str) -> CaseType | None:
    return session.scalars(
        select(CaseType).where(CaseType.key == key).order_by(CaseType.version.desc()).limit(1)
    ).first()


def list_types(*, session: Session) -> list[CaseType]:
    latest = select(CaseType.key, func.max(CaseType.version).label("v")).group_by(CaseType.key).subquery()
    return list(
        session.scalars(
            select(CaseType)
            .join(latest, (CaseType.key == latest.c.key) & (CaseType.version == latest.c.v))
            .order_by(CaseType.key)
        )
    )


# --- cases ------------------------------------------------------------------------


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


def find_or_create_party(*, session: Session, data: PartyIn) -> Party:
    email_key = data.email.lower() if data.email else None
    if email_key:
        existing = session.scalars(select(Party).where(Party.email_key == email_key).limit(1)).first()
        if existing is not None:
            return existing
    party = Party(
        id=str(uuid.uuid4()),
        kind=data.kind,
        name=data.name,
        emails=[str(data.email)] if data.email else [],
        phones=[data.phone] if data.phone else [],
        email_key=email_key,
    )
    session.add(party)
    return party


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
    ctype = current_type(session=session, key=data.type)
    if ctype is None:
        raise InvalidInput.from_field("type", f"unknown case type {data.type!r}")
    validator = data_validator(ctype)
    if validator is not None:
        errors = _schema_errors(validator, data.data, "data")
        if errors:
            raise InvalidInput("case data does not match the case type", errors)
    stages = ctype.definition.get("stages") or [{"key": "new"}]
    party = find_or_create_party(session=session, data=data.customer) if data.customer else None
    case = Case(
        id=str(uuid.uuid4()),
        type_key=ctype.key,
        type_version=ctype.version,
        title=data.title,
        description=data.description,
        priority=data.priority.value,
        status="open",
        stage=stages[0]["key"],
        channel=data.channel,
        data=data.data,
        created_by=principal.user_id,
        idempotency_key=idempotency_key,
    )
    if party is not None:
        case.parties.append(CaseParty(party=party, role="customer"))
    # Number the case last: the counter row stays locked until commit, so everything
    # that can fail or take time happens before it (references stay gapless).
    with session.no_autoflush:
        case.reference = next_reference(session=session, prefix=ctype.prefix)
    session.add(case)
    session.flush()
    snapshot = case_out(case)
    audit.append(
        session=session,
        case_id=case.id,
        principal=principal,
        action=ev.CASE_OPENED,
        changes={"after": snapshot},
        first=True,
    )
    events.emit(session, ev.CASE_OPENED, {"case": snapshot}, case_id=case.id, case_version=case.version)
    return case, True


def get_case(*, session: Session, principal: Principal, case_id: str) -> Case:
    require_reader(principal)
    case = session.get(Case, case_id) if is_uuid(case_id) else None
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def list_cases(
    *,
    session: Session,
    principal: Principal,
    status: str | None = None,
    type_key: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Case], str | None]:
    require_reader(principal)
    if status is not None and status not in CASE_STATUSES:
        raise InvalidInput.from_field("status", f"must be one of {', '.join(CASE_STATUSES)}")
    if type_key is not None and not re.fullmatch(TYPE_KEY_PATTERN, type_key):
        raise InvalidInput.from_field("type", "is not a case type key")
    limit = max(1, min(limit, 200))
    stmt = select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
    if status:
        stmt = stmt.where(Case.status == status)
    if type_key:
        stmt = stmt.where(Case.type_key == type_key)
    if cursor:
        created_at, case_id = _decode_cursor(cursor)
        stmt = stmt.where(tuple_(Case.created_at, Case.id) < tuple_(created_at, case_id))
    rows = list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(last.created_at, last.id)
    return rows, next_cursor


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
