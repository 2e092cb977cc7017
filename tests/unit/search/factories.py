"""Case snapshots and event envelopes as the producers send them (casekit.contracts.events)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from casekit.contracts.events import make_envelope

_refs = itertools.count(1)
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot(**overrides: Any) -> dict[str, Any]:
    n = next(_refs)
    case = {
        "id": str(uuid.uuid4()),
        "reference": f"CMP-2026-{n:06d}",
        "type": "complaint",
        "type_version": 1,
        "title": "Broken boiler in flat three",
        "description": "No heating since Monday",
        "priority": "normal",
        "status": "open",
        "stage": "received",
        "channel": "web",
        "data": {"product": "gas", "amount": 120},
        "version": 1,
        "created_by": "u-agent",
        "created_at": "2026-01-05T10:00:00+00:00",
        "updated_at": "2026-01-05T10:00:00+00:00",
        "parties": [
            {
                "id": str(uuid.uuid4()),
                "name": "Ada Lovelace",
                "kind": "person",
                "role": "customer",
                "emails": ["Ada.Lovelace@example.org"],
                "phones": ["+44 20 7946 0000"],
            }
        ],
        "team": None,
        "restricted": False,
        "closed_at": None,
    }
    case.update(overrides)
    return case


def case_event(case: dict[str, Any], version: int | None = None, type: str = "case_updated", **data: Any):  # noqa: A002, ANN201
    version = version or case["version"]
    return make_envelope(
        producer="cases",
        type=type,
        case_id=case["id"],
        case_version=version,
        data={"case": {**case, "version": version}, **data},
        occurred_at=at(version),
    )


def note_event(
    case: dict[str, Any], version: int, body: str, note_id: str | None = None, updated: float = 0
) -> dict[str, Any]:
    stamp = at(updated or version).isoformat()
    note = {
        "id": note_id or str(uuid.uuid4()),
        "body": body,
        "visibility": "internal",
        "author_id": "u-agent",
        "created_at": stamp,
        "updated_at": stamp,
    }
    return case_event(case, version, type="note_added", note=note)


def document_event(case_id: str, document_id: str, text: str, filename: str = "letter.txt") -> dict[str, Any]:
    return make_envelope(
        producer="documents",
        type="document_text_extracted",
        case_id=case_id,
        data={"document_id": document_id, "filename": filename, "text": text},
    )


def document_removed(case_id: str, document_id: str) -> dict[str, Any]:
    return make_envelope(
        producer="documents", type="document_removed", case_id=case_id, data={"document_id": document_id}
    )


def routing_event(case_id: str, type: str, when: float, **data: Any) -> dict[str, Any]:  # noqa: A002
    return make_envelope(producer="routing", type=type, case_id=case_id, data=data, occurred_at=at(when))
