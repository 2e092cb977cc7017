"""Outbound email and SMS: queued once per idempotency key, claimed before sending, logged.

States of a message::

    queued ──claim──▶ claimed ──▶ transmitting ──▶ sent
      ▲                  │              │
      └── provider said "try later" ────┘ (attempts < MAX_ATTEMPTS, backoff) ──▶ failed

A dispatcher claims a row with ``FOR UPDATE SKIP LOCKED`` and a lease, commits, and only then
talks to the provider; it commits ``transmitting`` just before handing the message over and
``sent`` right after. After a crash:

- a lease that ran out in ``claimed`` (the provider was never contacted) is simply retried;
- a lease that ran out in ``transmitting`` means the provider may or may not have the message.
  When the provider honours our idempotency key (``idempotent_provider``) the message is retried
  with the same key, which the provider deduplicates: exactly once. Otherwise (plain SMTP) it is
  marked ``uncertain`` and never resent automatically: at most once, and the delivery log says
  so. Every email carries the same Message-ID on every attempt, so a receiver (and our own intake)
  can deduplicate even then.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casekit.db import utcnow
from casekit.errors import InvalidInput
from services.notifications.models import DeliveryAttempt, OutboundMessage

MAX_ATTEMPTS = 8
CHANNELS = ("email", "sms")


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def queue(
    session: Session,
    *,
    key: str,
    case_id: str | None,
    channel: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    domain: str,
    purpose: str = "case",
    in_reply_to: str | None = None,
    created_by: str | None = None,
    recorded: bool = False,
) -> tuple[OutboundMessage, bool]:
    """The message for ``key``: (row, created). A second call with the same key changes nothing."""
    if channel not in CHANNELS:
        raise InvalidInput.from_field("channel", f"must be one of {', '.join(CHANNELS)}")
    found = session.scalars(select(OutboundMessage).where(OutboundMessage.idempotency_key == key)).first()
    if found is not None:
        return found, False
    row = OutboundMessage(
        id=str(uuid.uuid4()),
        idempotency_key=key,
        case_id=case_id,
        purpose=purpose,
        channel=channel,
        to_addr=to,
        subject=subject if channel == "email" else "",
        body_text=text,
        body_html=html if channel == "email" else None,
        message_id=new_message_id(domain),
        in_reply_to=in_reply_to,
        state="queued",
        attempts=0,
        next_attempt_at=utcnow(),
        created_by=created_by,
        recorded=recorded,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def recover(session: Session, *, now: datetime, idempotent_provider: dict[str, bool]) -> list[str]:
    """Expired leases: back to queued when safe to resend, else ``uncertain``; their ids."""
    changed = []
    rows = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.state.in_(("claimed", "transmitting")), OutboundMessage.lease_until < now)
        .with_for_update(skip_locked=True)
        .limit(100)
    ).all()
    for row in rows:
        safe = row.state == "claimed" or idempotent_provider.get(row.channel, False)
        log_attempt_end(session, row, "abandoned", f"lease expired in {row.state}")
        row.state = "queued" if safe else "uncertain"
        row.lease_until = None
        row.last_error = f"dispatcher stopped while {'claimed' if safe else 'transmitting'}"
        changed.append(row.id)
    return changed


def claim(
    session: Session, *, now: datetime, lease: float, channels: tuple[str, ...] = CHANNELS
) -> OutboundMessage | None:
    """Take the next due message for this dispatcher (committed by the caller before sending)."""
    row = session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.state == "queued",
            OutboundMessage.next_attempt_at <= now,
            OutboundMessage.channel.in_(channels),
        )
        .order_by(OutboundMessage.next_attempt_at)
        .with_for_update(skip_locked=True)
        .limit(1)
    ).first()
    if row is None:
        return None
    row.state = "claimed"
    row.attempts += 1
    row.lease_until = now + timedelta(seconds=lease)
    session.add(DeliveryAttempt(message_id=row.id, attempt=row.attempts, started_at=now, outcome="started"))
    return row


def log_attempt_end(session: Session, row: OutboundMessage, outcome: str, detail: str | None = None) -> None:
    attempt = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == row.id, DeliveryAttempt.attempt == row.attempts)
        .order_by(DeliveryAttempt.id.desc())
    ).first()
    if attempt is not None and attempt.outcome == "started":
        attempt.outcome, attempt.detail, attempt.finished_at = outcome, (detail or "")[:2000], utcnow()


def transmitting(row: OutboundMessage) -> None:
    row.state = "transmitting"


def sent(session: Session, row: OutboundMessage, provider_id: str | None) -> None:
    row.state, row.sent_at, row.lease_until = "sent", utcnow(), None
    row.provider_id = provider_id
    row.last_error = None
    log_attempt_end(session, row, "sent", provider_id)


def failed(session: Session, row: OutboundMessage, error: str, *, temporary: bool, backoff: float) -> None:
    """A provider refusal: retried with exponential backoff while temporary and attempts remain."""
    row.last_error = error[:2000]
    row.lease_until = None
    if temporary and row.attempts < MAX_ATTEMPTS:
        row.state = "queued"
        row.next_attempt_at = utcnow() + timedelta(seconds=backoff * (2 ** (row.attempts - 1)))
        log_attempt_end(session, row, "retry", error)
    else:
        row.state = "failed"
        log_attempt_end(session, row, "failed", error)


def unrecorded(session: Session, limit: int = 20) -> list[OutboundMessage]:
    """Sent messages not yet on their case's timeline."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.state == "sent",
                OutboundMessage.recorded.is_(False),
                OutboundMessage.case_id.is_not(None),
            )
            .limit(limit)
        )
    )


def message_out(row: OutboundMessage, attempts: list[DeliveryAttempt] | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "case_id": row.case_id,
        "purpose": row.purpose,
        "channel": row.channel,
        "to": row.to_addr,
        "subject": row.subject,
        "body": row.body_text,
        "html": row.body_html,
        "message_id": row.message_id,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "provider_id": row.provider_id,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }
    if attempts is not None:
        out["delivery_log"] = [
            {
                "attempt": a.attempt,
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                "outcome": a.outcome,
                "detail": a.detail,
            }
            for a in attempts
        ]
    return out


def for_case(session: Session, case_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.case_id == case_id, OutboundMessage.purpose != "staff")
        .order_by(OutboundMessage.created_at)
    ).all()
    logs: dict[str, list[DeliveryAttempt]] = {}
    if rows:
        for a in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_([r.id for r in rows]))
            .order_by(DeliveryAttempt.id)
        ):
            logs.setdefault(a.message_id, []).append(a)
    return [message_out(r, logs.get(r.id, [])) for r in rows]
