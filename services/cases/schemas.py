"""Wire format of cases: ORM rows in, JSON-safe dicts out."""

from __future__ import annotations

from typing import Any

from services.cases.models import Case, CaseParty


def party_out(cp: CaseParty) -> dict[str, Any]:
    p = cp.party
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "role": cp.role,
        "emails": list(p.emails or []),
        "phones": list(p.phones or []),
    }


def case_out(case: Case) -> dict[str, Any]:
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
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "parties": [party_out(cp) for cp in case.parties],
    }
