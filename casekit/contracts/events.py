"""Event types, their producers, and the versioned envelope every event travels in.

Envelope (v1)::

    {"id", "type", "v", "occurred_at", "producer", "case_id", "case_version",
     "actor": {"user_id", "roles"}, "correlation_id", "data": {...}}

Consumers must accept unknown fields; a change that breaks a consumer is a new ``v``.

Every event of the cases service carries ``data.case``: the case as ``cases.get_case``
returns it, after the change, at ``case_version``. Consumers that keep a copy of a case
(search, routing, reports) can therefore apply any cases event on its own, ordered by
``case_version``. Event-specific fields sit beside it (for example ``data.note`` on
``note_added``).

``case_merged`` is emitted twice per merge, once for each case, both with ``data.merge`` =
``{"source_case_id", "survivor_case_id", "role": "source"|"survivor", "moved_notes",
"moved_parties"}``. The source is closed (resolution ``merged``) with a ``merged_into`` link.
The documents service should, on the ``survivor`` event, move every document of
``source_case_id`` to ``survivor_case_id`` (idempotently; the source's snapshot is closed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

ENVELOPE_VERSION = 1

# cases
CASE_OPENED = "case_opened"
CASE_UPDATED = "case_updated"
CASE_TRANSITIONED = "case_transitioned"
CASE_CLOSED = "case_closed"
CASE_REOPENED = "case_reopened"
NOTE_ADDED = "note_added"
PARTY_ADDED = "party_added"
CASE_LINKED = "case_linked"
TASK_ADDED = "task_added"
TASK_COMPLETED = "task_completed"
INTAKE_RECEIVED = "intake_received"
NOTE_UPDATED = "note_updated"
TASK_UPDATED = "task_updated"
RELATIONSHIP_ADDED = "relationship_added"
CASE_MERGED = "case_merged"
MESSAGE_RECORDED = "message_recorded"
# documents
DOCUMENT_ADDED = "document_added"
DOCUMENT_TEXT_EXTRACTED = "document_text_extracted"
DOCUMENT_REMOVED = "document_removed"
# routing
CASE_QUEUED = "case_queued"
CASE_ASSIGNED = "case_assigned"
CASE_UNASSIGNED = "case_unassigned"
CASE_ESCALATED = "case_escalated"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
SLA_CLOCK_STARTED = "sla_clock_started"
SLA_CLOCK_PAUSED = "sla_clock_paused"
SLA_CLOCK_RESUMED = "sla_clock_resumed"
SLA_CLOCK_STOPPED = "sla_clock_stopped"
# notifications
MESSAGE_SENT = "message_sent"
MESSAGE_FAILED = "message_failed"
MESSAGE_RECEIVED = "message_received"

PRODUCERS: dict[str, tuple[str, ...]] = {
    "cases": (
        CASE_OPENED,
        CASE_UPDATED,
        CASE_TRANSITIONED,
        CASE_CLOSED,
        CASE_REOPENED,
        NOTE_ADDED,
        PARTY_ADDED,
        CASE_LINKED,
        TASK_ADDED,
        TASK_COMPLETED,
        INTAKE_RECEIVED,
        NOTE_UPDATED,
        TASK_UPDATED,
        RELATIONSHIP_ADDED,
        CASE_MERGED,
        MESSAGE_RECORDED,  # a message sent from the case, on its timeline (notifications sends it)
    ),
    "documents": (DOCUMENT_ADDED, DOCUMENT_TEXT_EXTRACTED, DOCUMENT_REMOVED),
    "routing": (
        CASE_QUEUED,
        CASE_ASSIGNED,
        CASE_UNASSIGNED,
        CASE_ESCALATED,
        SLA_WARNING,
        SLA_BREACHED,
        SLA_CLOCK_STARTED,
        SLA_CLOCK_PAUSED,
        SLA_CLOCK_RESUMED,
        SLA_CLOCK_STOPPED,
    ),
    "notifications": (MESSAGE_SENT, MESSAGE_FAILED, MESSAGE_RECEIVED),
}

REQUIRED_FIELDS = ("id", "type", "v", "occurred_at", "producer", "data")


class EnvelopeError(ValueError):
    """An event body that is not a v1 envelope."""


def make_envelope(
    *,
    producer: str,
    type: str,  # noqa: A002 - the envelope field is called "type"
    data: dict[str, Any],
    case_id: str | None = None,
    case_version: int | None = None,
    actor: dict[str, Any] | None = None,
    correlation_id: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    if type not in PRODUCERS.get(producer, ()):
        raise EnvelopeError(f"{producer} does not produce {type!r}")
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": type,
        "v": ENVELOPE_VERSION,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "producer": producer,
        "case_id": case_id,
        "case_version": case_version,
        "actor": actor or {"user_id": None, "roles": []},
        "correlation_id": correlation_id,
        "data": data,
    }


def check_envelope(body: Any) -> dict[str, Any]:
    """Return ``body`` if it is a v1 envelope; raise ``EnvelopeError`` otherwise."""
    if not isinstance(body, dict):
        raise EnvelopeError("event body is not an object")
    missing = [f for f in REQUIRED_FIELDS if f not in body]
    if missing:
        raise EnvelopeError(f"event is missing {', '.join(missing)}")
    if body["v"] != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {body['v']!r}")
    if not isinstance(body["data"], dict):
        raise EnvelopeError("event data is not an object")
    return body
