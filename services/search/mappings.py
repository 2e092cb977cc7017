"""Builders from event payloads to index documents (one place for the mapping)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from casekit.contracts.cases import PRIORITY_RANK, Priority

CASE_PREFIX = "case:"
DOC_PREFIX = "doc:"
REFERENCE_PATTERN = re.compile(r"^[A-Z]{2,8}-\d{4}-\d{6}$")
MAX_BODY = 1024 * 1024


def case_doc(case: dict[str, Any], version: int) -> dict[str, Any]:
    parties = case.get("parties") or []
    return {
        "doc_id": CASE_PREFIX + case["id"],
        "case_id": case["id"],
        "kind": "case",
        "reference": case["reference"],
        "reference_text": case["reference"].replace("-", " "),
        "title": case.get("title", ""),
        "description": case.get("description", ""),
        "parties": " ".join(
            " ".join([p.get("name", ""), *p.get("emails", []), *p.get("phones", [])]) for p in parties
        ),
        "type": case.get("type", ""),
        "status": case.get("status", ""),
        "stage": case.get("stage", ""),
        "priority": case.get("priority", "normal"),
        "priority_rank": PRIORITY_RANK[Priority(case.get("priority", "normal"))],
        "case_version": version,
        "created_at": datetime.fromisoformat(case["created_at"]),
    }


def document_text_doc(event_data: dict[str, Any], case_id: str) -> dict[str, Any]:
    return {
        "doc_id": DOC_PREFIX + event_data["document_id"],
        "case_id": case_id,
        "kind": "document",
        "filename": event_data.get("filename", ""),
        "body": (event_data.get("text") or "")[:MAX_BODY],
        "case_version": 0,
    }
