"""Intake: an inbound item opens a case or joins the case it belongs to, once per provider id.

Correlation, first match wins:
1. a case reference in the subject (``CMP-2026-000123``);
2. a thread key: ``In-Reply-To`` or one of ``References`` names an item already taken in;
   (our own outbound Message-IDs are registered as thread keys by ``record_message``, so a reply to
   what staff sent threads back);
3. a known sender (by email, else phone) with exactly one open case of the channel's type.
An item that correlates to a closed case opens a new case linked to it as ``related``.

``meta`` is what the adapter learnt beyond the item (sender verified or not, recipients, stored
documents, problems met while parsing); it lands on the timeline with the item. The answer says
whether the case type asks for an automatic acknowledgement on the item's channel.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.context import ROLE_SYSTEM, Principal, require_roles
from casekit.contracts import events as ev
from casekit.contracts.cases import CaseCreate, IntakeIn
from casekit.contracts.ids import is_uuid
from casekit.contracts.visibility import can_see
from casekit.errors import InvalidInput, NotFound
from casekit.outbox import EventWriter
from services.cases.logic.common import INTAKE_ROLES, case_definition, now, record_change
from services.cases.logic.links import _link
from services.cases.logic.opening import create_case, find_party
from services.cases.logic.types import list_types
from services.cases.models import Case, CaseParty, IntakeItem

REFERENCE = re.compile(r"\b([A-Z]{2,8}-\d{4}-\d{6})\b")
FALLBACK_TYPE = "general"


def channel_type(session: Session, channel: str) -> str:
    """The case type whose latest version takes in ``channel`` (``general`` when none does)."""
    for ctype in list_types(session=session):
        if channel in (ctype.definition.get("intake_channels") or []):
            return ctype.key
    return FALLBACK_TYPE


def correlate(session: Session, item: IntakeIn, type_key: str) -> tuple[Case | None, str | None]:
    """The case the item belongs to and the rule that found it."""
    for reference in REFERENCE.findall(item.subject):
        case = session.scalars(select(Case).where(Case.reference == reference)).first()
        if case is not None:
            return case, "reference"
    keys = [k for k in [item.thread.in_reply_to, *item.thread.references] if k]
    if keys:
        found = session.scalars(
            select(IntakeItem.case_id)
            .where(IntakeItem.message_id.in_(keys))
            .order_by(IntakeItem.received_at.desc())
        ).first()
        if found is not None:
            return session.get(Case, found), "thread"
    party = find_party(
        session=session, email=item.sender.email, phone=None if item.sender.email else item.sender.phone
    )
    if party is not None:
        open_cases = session.scalars(
            select(Case)
            .join(CaseParty, CaseParty.case_id == Case.id)
            .where(CaseParty.party_id == party.id, Case.status == "open", Case.type_key == type_key)
            .distinct()
            .limit(2)
        ).all()
        if len(open_cases) == 1:
            return open_cases[0], "sender"
    return None, None


def summary(item: IntakeIn) -> dict[str, Any]:
    return {
        "channel": item.channel,
        "provider_id": item.provider_id,
        "from": item.sender.email or item.sender.phone or item.sender.name,
        "subject": item.subject,
        "body": item.body[:2000],
        "message_id": item.thread.message_id,
        "received_at": (item.received_at or now()).isoformat(),
        "attachments": [a.model_dump() for a in item.attachments],
    }


def _meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The adapter's notes, bounded: small JSON values only."""
    out: dict[str, Any] = {}
    for key, value in list((meta or {}).items())[:20]:
        if isinstance(value, str):
            value = value[:2000]
        elif isinstance(value, list):
            value = [v[:500] if isinstance(v, str) else v for v in value[:50]]
        elif not isinstance(value, bool | int | float | type(None) | dict):
            continue
        out[str(key)[:64]] = value
    return out


def acknowledge(session: Session, case: Case, channel: str) -> bool:
    """Whether the case's type asks for an automatic acknowledgement on ``channel``."""
    wanted = case_definition(session, case).raw.get("acknowledge") or []
    return channel in wanted


def intake(
    *,
    session: Session,
    principal: Principal,
    events: EventWriter,
    item: IntakeIn,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Put ``item`` on the case it belongs to, or on a new case; a redelivery changes nothing."""
    require_roles(principal, *INTAKE_ROLES, action="take in items")
    seen = session.scalars(
        select(IntakeItem).where(
            IntakeItem.channel == item.channel, IntakeItem.provider_id == item.provider_id
        )
    ).first()
    if seen is not None:
        case = session.get(Case, seen.case_id)
        return {
            "case_id": seen.case_id,
            "reference": case.reference if case else None,
            "created": False,
            "duplicate": True,
            "matched_by": None,
            "acknowledge": False,
        }
    type_key = channel_type(session, item.channel)
    case, rule = correlate(session, item, type_key)
    hidden = case is not None and not can_see(principal, team=case.team, restricted=bool(case.restricted))
    if hidden and not principal.has_role(ROLE_SYSTEM):
        case, rule = None, None  # a person taking an item in never learns of cases they cannot see
    related = None
    if case is not None and case.status == "closed":
        related, case, rule = case, None, None
    created = case is None
    if case is None:
        case = create_case(
            session=session,
            principal=principal,
            events=events,
            data=CaseCreate(
                type=type_key,
                title=(item.subject or f"{item.channel} from {item.sender.name}")[:200],
                description=item.body[:20000],
                customer=item.sender,
                channel=item.channel,
            ),
        )
    else:
        session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
        session.refresh(case)
    if related is not None:
        _link(session, principal, case, related, "related")
    session.add(
        IntakeItem(
            id=str(uuid.uuid4()),
            channel=item.channel,
            provider_id=item.provider_id,
            message_id=item.thread.message_id,
            case_id=case.id,
            created_case=created,
        )
    )
    about = {
        **summary(item),
        **_meta(meta),
        "matched_by": rule,
        "related_to": related.id if related else None,
    }
    record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.INTAKE_RECEIVED,
        changes={"item": about},
        extra={"item": about},
    )
    return {
        "case_id": case.id,
        "reference": case.reference,
        "created": created,
        "duplicate": False,
        "matched_by": rule,
        "version": case.version,
        "acknowledge": created and acknowledge(session, case, item.channel),
    }


def record_message(
    *, session: Session, principal: Principal, events: EventWriter, case_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    """Put a message staff sent on the case's timeline, and its Message-ID among the thread keys.

    Idempotent by ``message["id"]`` (the outbound message's id): a retry changes nothing.
    """
    require_roles(principal, *INTAKE_ROLES, action="record messages")
    channel = f"{str(message.get('channel') or 'email')[:24]}_out"
    provider_id = str(message.get("id") or "")[:255]
    if not provider_id:
        raise InvalidInput.from_field("message.id", "is required")
    seen = session.scalars(
        select(IntakeItem).where(IntakeItem.channel == channel, IntakeItem.provider_id == provider_id)
    ).first()
    if seen is not None:
        return {"case_id": seen.case_id, "duplicate": True}
    case = session.get(Case, case_id) if is_uuid(case_id) else None
    if case is None or not can_see(principal, team=case.team, restricted=bool(case.restricted)):
        raise NotFound("no such case")
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    session.refresh(case)
    session.add(
        IntakeItem(
            id=str(uuid.uuid4()),
            channel=channel,
            provider_id=provider_id,
            message_id=message.get("message_id"),
            case_id=case.id,
            created_case=False,
        )
    )
    about = {
        k: (str(message[k])[:2000] if message.get(k) is not None else None)
        for k in ("id", "channel", "to", "subject", "body", "message_id", "sent_by", "sent_at", "template")
    }
    record_change(
        session,
        principal,
        events,
        case,
        event_type=ev.MESSAGE_RECORDED,
        changes={"message": about},
        extra={"message": about},
    )
    return {"case_id": case.id, "duplicate": False, "version": case.version}
