"""The history of every case in pages, for read models that rebuild themselves (reports).

Each case comes with its changes in order as the events they were, rebuilt from the audit
trail (reads left out): type, time, case version (the n-th change is version n), stage and
status after it, resolution and task where the change names them. Keyset paging by case id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_AUDITOR, Principal, require_roles
from services.cases.models import AuditEntry, Case

READ = "case_read"


def _after(value: Any) -> Any:
    return value.get("after") if isinstance(value, dict) else value


def case_events(case: Case, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stage, status, resolution = None, "open", None
    for e in entries:
        if e.action == READ:
            continue
        changes = e.changes or {}
        if e.action == "case_opened":
            snap = changes.get("after") or {}
            stage, status = snap.get("stage"), snap.get("status") or "open"
        if "stage" in changes:
            stage = _after(changes["stage"])
        if e.action in ("case_closed", "case_merged") and _after(changes.get("status")) != "open":
            status, resolution = "closed", _after(changes.get("resolution")) or resolution
        elif e.action == "case_reopened":
            status, resolution = "open", None
        task = changes.get("task") if isinstance(changes.get("task"), dict) else None
        out.append(
            {
                "type": e.action,
                "occurred_at": e.at.isoformat(),
                "case_version": len(out) + 1,
                "stage": stage,
                "status": status,
                "resolution": resolution,
                "task": (task or {}).get("key") or (task or {}).get("title"),
            }
        )
    if out and case.status == "closed":
        out[-1]["resolution"] = out[-1]["resolution"] or case.resolution
    return out


def history_page(
    *, session: Session, principal: Principal, after: str | None = None, limit: int = 200
) -> dict[str, Any]:
    require_roles(principal, ROLE_ADMIN, ROLE_AUDITOR, action="read the history of every case")
    limit = max(1, min(int(limit), 1000))
    stmt = select(Case).order_by(Case.id).limit(limit)
    if after:
        stmt = stmt.where(Case.id > after)
    cases = list(session.scalars(stmt))
    ids = [c.id for c in cases]
    entries: dict[str, list[AuditEntry]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.case_id.in_(ids)).order_by(AuditEntry.case_id, AuditEntry.seq)
        )
        for e in rows:
            entries[e.case_id].append(e)
    items = [
        {
            "case": {
                "id": c.id,
                "reference": c.reference,
                "type": c.type_key,
                "priority": c.priority,
                "channel": c.channel,
                "team": c.team,
                "status": c.status,
                "created_at": c.created_at.isoformat() if c.created_at else None,
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "version": c.version,
            },
            "events": case_events(c, entries[c.id]),
        }
        for c in cases
    ]
    total = session.scalar(select(func.count()).select_from(Case)) if not after else None
    return {"items": items, "next": ids[-1] if len(ids) == limit else None, "total": total}
