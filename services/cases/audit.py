"""The per-case, hash-chained audit trail.

Each entry's hash is ``SHA-256(0x00 || canonical(entry) || prev_hash)`` where
``canonical`` is sorted-key compact JSON of the entry's fields and the first
entry's ``prev_hash`` is 64 zeros. Changing, removing or reordering any entry
breaks every hash after it; ``verify`` names the first entry that does not hold.

The table is append-only in the database too: a trigger (migration b62615343278) refuses
UPDATE, DELETE and TRUNCATE for every role, the application's included.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casekit.context import Principal
from services.cases.models import AuditEntry

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_fields(e: AuditEntry) -> dict[str, Any]:
    return {
        "case_id": e.case_id,
        "seq": e.seq,
        "at": e.at.astimezone(UTC).isoformat(),
        "actor_id": e.actor_id,
        "actor_roles": list(e.actor_roles or []),
        "action": e.action,
        "changes": e.changes,
        "correlation_id": e.correlation_id,
    }


def chain_hash(fields: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(b"\x00" + canonical(fields) + bytes.fromhex(prev_hash)).hexdigest()


def append(
    session: Session,
    *,
    case_id: str,
    principal: Principal,
    action: str,
    changes: dict[str, Any],
    first: bool = False,
) -> AuditEntry:
    """Add the next entry of a case's chain (``first`` for a case created in this transaction)."""
    last = None
    if not first:
        # one appender per case at a time: reads (which append too) hold no row lock
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(case_id))))
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.hash)
            .where(AuditEntry.case_id == case_id)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    entry = AuditEntry(
        case_id=case_id,
        seq=seq,
        at=datetime.now(UTC),
        actor_id=principal.user_id,
        actor_roles=list(principal.roles),
        action=action,
        changes=json.loads(canonical(changes)),
        correlation_id=principal.correlation_id,
        prev_hash=prev,
    )
    entry.hash = chain_hash(entry_fields(entry), prev)
    session.add(entry)
    return entry


def verify(session: Session, case_id: str) -> dict[str, Any]:
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
    ).all()
    prev = GENESIS
    for index, e in enumerate(entries, start=1):
        problem = None
        if e.seq != index:
            problem = f"expected sequence {index}, found {e.seq}"
        elif e.prev_hash != prev:
            problem = "prev_hash does not match the previous entry"
        elif chain_hash(entry_fields(e), prev) != e.hash:
            problem = "hash does not match the entry's content"
        if problem:
            return {"ok": False, "entries": len(entries), "first_bad_seq": e.seq, "reason": problem}
        prev = e.hash
    return {"ok": True, "entries": len(entries), "first_bad_seq": None, "reason": None, "head": prev}


def as_dict(e: AuditEntry) -> dict[str, Any]:
    return {**entry_fields(e), "prev_hash": e.prev_hash, "hash": e.hash}
