"""What the index holds for a case: its *source*, how events change it, and the fields built from it.

One index document per case. Its source gathers everything known about the case::

    {"case_id", "case": <snapshot or None>, "case_version",
     "notes": {note_id: {...}}, "documents": {document_id: {"filename", "text", "kind"}},
     "removed_documents": [ids], "routing": {"queue", "assignee", "at"}, "sla": {"state", "at"},
     "last_event_at"}

``apply_event`` is a pure function from (source, envelope) to the new source, or ``None`` when
the event changes nothing. Ordering: the case snapshot by ``case_version`` (an older or equal
version is a no-op), notes by their ``updated_at``, routing and SLA by the event's ``occurred_at``,
and a removed document stays removed even if its text is redelivered. So applying any
permutation of a set of events, each any number of times, ends in the same source.

A source without a case snapshot (document text that arrived before ``case_opened``) is kept
but never shown: ``ready`` is 0.
"""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from casekit.contracts import events as ev

REFERENCE_PATTERN = re.compile(r"^[A-Z]{2,8}-\d{4}-\d{6}$")
MAX_TEXT = 1024 * 1024  # characters of one document's text that are indexed
NO_TEAM = "_none"
NO_VALUE = "_none"
PRIORITY_RANK = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SLA_STATES = ("ok", "warning", "breached")
DEFAULT_COUNTRY_CODE = "44"
NOTE_UPDATED = getattr(ev, "NOTE_UPDATED", "note_updated")
ROUTING_EVENTS = (ev.CASE_QUEUED, ev.CASE_ASSIGNED, ev.CASE_UNASSIGNED, ev.SLA_WARNING, ev.SLA_BREACHED)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- normalisation -------------------------------------------------------------------------------


def normalise_phone(raw: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """E.164 digits without the plus: ``+44 20 7946 0000`` and ``020 7946 0000`` → ``442079460000``."""
    raw = (raw or "").strip()
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return ""
    if raw.startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return country_code + digits[1:]
    return digits


def looks_like_phone(text: str) -> bool:
    return bool(re.fullmatch(r"\+?[0-9 ()\-]{6,40}", text.strip())) and sum(c.isdigit() for c in text) >= 6


def normalise_email(raw: str) -> str:
    return (raw or "").strip().lower()


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# --- applying events -----------------------------------------------------------------------------


def empty_source(case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case": None,
        "case_version": 0,
        "notes": {},
        "documents": {},
        "removed_documents": [],
        "routing": {"queue": None, "assignee": None, "at": ""},
        "sla": {"state": "ok", "at": ""},
        "last_event_at": "",
    }


def event_case_id(envelope: dict[str, Any]) -> str | None:
    data = envelope.get("data") or {}
    case = data.get("case")
    if isinstance(case, dict) and case.get("id"):
        return str(case["id"])
    return envelope.get("case_id")


def _later(stamp: str, than: str) -> bool:
    """ISO timestamps compared as instants; an empty stamp is the oldest."""
    a, b = parse_time(stamp), parse_time(than)
    if a is None:
        return False
    return b is None or a >= b


def newest(sources: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of several copies of one case's source, the latest written: the highest case version, then
    the latest event (an older copy that came back holds a state every later write had replaced)."""
    if not sources:
        return None
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(
        sources,
        key=lambda s: (int(s.get("case_version") or 0), parse_time(s.get("last_event_at") or "") or epoch),
    )


def _apply_note(source: dict[str, Any], note: dict[str, Any]) -> bool:
    if not isinstance(note, dict) or not note.get("id"):
        return False
    note_id = str(note["id"])
    held = source["notes"].get(note_id)
    stamp = note.get("updated_at") or note.get("created_at") or ""
    if held is not None and (
        held == note or not _later(stamp, held.get("updated_at") or held.get("created_at"))
    ):
        return False
    source["notes"][note_id] = {
        "id": note_id,
        "body": str(note.get("body") or "")[:MAX_TEXT],
        "visibility": note.get("visibility"),
        "author_id": note.get("author_id"),
        "created_at": note.get("created_at"),
        "updated_at": note.get("updated_at") or note.get("created_at"),
    }
    return True


def _apply_case(source: dict[str, Any], envelope: dict[str, Any]) -> bool:
    data = envelope["data"]
    changed = False
    case = data.get("case")
    if isinstance(case, dict) and case.get("id"):
        version = int(envelope.get("case_version") or case.get("version") or 1)
        if version > int(source["case_version"]):
            source["case"] = case
            source["case_version"] = version
            changed = True
            for note in case.get("notes") or []:
                _apply_note(source, note)
    if isinstance(data.get("note"), dict):
        changed = _apply_note(source, data["note"]) or changed
    return changed


def _apply_routing(source: dict[str, Any], envelope: dict[str, Any]) -> bool:
    data, kind, stamp = envelope["data"], envelope["type"], envelope.get("occurred_at") or ""
    if kind in (ev.SLA_WARNING, ev.SLA_BREACHED):
        state = "warning" if kind == ev.SLA_WARNING else "breached"
        held = source["sla"]
        if held["state"] == state and held["at"] == stamp:
            return False
        if not _later(stamp, held["at"]):
            return False
        source["sla"] = {"state": state, "at": stamp}
        return True
    held = source["routing"]
    if not _later(stamp, held["at"]):
        return False
    new = dict(held)
    if data.get("queue"):
        new["queue"] = data["queue"]
    if kind == ev.CASE_ASSIGNED:
        new["assignee"] = data.get("assignee")
    elif kind == ev.CASE_UNASSIGNED:
        new["assignee"] = None
    new["at"] = stamp
    if new == held:
        return False
    source["routing"] = new
    return True


def _apply_document(source: dict[str, Any], envelope: dict[str, Any]) -> bool:
    data, kind = envelope["data"], envelope["type"]
    document_id = str(data.get("document_id") or data.get("message_id") or data.get("id") or "")
    if not document_id:
        return False
    if kind == ev.DOCUMENT_REMOVED:
        removed = document_id in source["removed_documents"]
        source["removed_documents"] = sorted({*source["removed_documents"], document_id})
        return source["documents"].pop(document_id, None) is not None or not removed
    if document_id in source["removed_documents"]:
        return False
    text = data.get("text") or data.get("body") or ""
    entry = {
        "filename": data.get("filename") or data.get("subject") or "",
        "text": str(text)[:MAX_TEXT],
        "kind": "message" if kind == ev.MESSAGE_RECEIVED else "document",
    }
    if source["documents"].get(document_id) == entry:
        return False
    source["documents"][document_id] = entry
    return True


def apply_event(source: dict[str, Any] | None, envelope: dict[str, Any]) -> dict[str, Any] | None:
    """The source after ``envelope``, or ``None`` when the event changes nothing."""
    case_id = event_case_id(envelope)
    if not case_id:
        return None
    new = copy.deepcopy(source) if source is not None else empty_source(case_id)
    producer, kind = envelope.get("producer"), envelope.get("type")
    if producer == "cases":
        changed = _apply_case(new, envelope)
    elif producer == "routing" and kind in ROUTING_EVENTS:
        changed = _apply_routing(new, envelope)
    elif kind in (ev.DOCUMENT_TEXT_EXTRACTED, ev.DOCUMENT_REMOVED, ev.MESSAGE_RECEIVED):
        changed = _apply_document(new, envelope)
    else:
        changed = False
    if not changed:
        return None
    if _later(envelope.get("occurred_at") or "", new.get("last_event_at") or ""):
        new["last_event_at"] = envelope.get("occurred_at")
    return new


def snapshot_envelope(case: dict[str, Any]) -> dict[str, Any]:
    """A synthetic cases event carrying ``case`` (drift repair applies it like any other)."""
    return ev.make_envelope(
        producer="cases",
        type=ev.CASE_UPDATED,
        case_id=case["id"],
        case_version=int(case.get("version") or 1),
        data={"case": case},
    )


# --- fields --------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _flatten(v, f"{prefix}{k} ")]
    if isinstance(value, list):
        return [t for v in value for t in _flatten(v, prefix)]
    if value is None:
        return []
    return [f"{prefix}{value}"]


def _hash_bits(case_id: str, bits: int) -> int:
    return int.from_bytes(hashlib.blake2b(case_id.encode(), digest_size=8).digest(), "big") & (
        (1 << bits) - 1
    )


def sort_keys(case_id: str, created: datetime | None, priority_rank: int) -> tuple[int, int]:
    """Unique u64 keys for keyset pagination: (date, priority-then-date); ties broken by a hash."""
    ms = int(((created or EPOCH) - EPOCH).total_seconds() * 1000)
    seconds = ms // 1000
    by_date = (max(ms, 0) & ((1 << 42) - 1)) << 22 | _hash_bits(case_id, 22)
    by_priority = (
        (priority_rank & 7) << 61 | (max(seconds, 0) & ((1 << 34) - 1)) << 27 | _hash_bits(case_id, 27)
    )
    return by_date, by_priority


def index_fields(source: dict[str, Any], country_code: str = DEFAULT_COUNTRY_CODE) -> dict[str, Any]:
    """Engine-neutral fields of one case document (lists are multi-valued fields)."""
    case = source.get("case") or {}
    parties = case.get("parties") or []
    priority = str(case.get("priority") or "normal")
    rank = PRIORITY_RANK.get(priority, 2)
    created = parse_time(case.get("created_at"))
    by_date, by_priority = sort_keys(source["case_id"], created, rank)
    reference = str(case.get("reference") or "")
    documents = [d for _id, d in sorted(source.get("documents", {}).items())]
    notes = [n for _id, n in sorted(source.get("notes", {}).items())]
    routing, sla = source.get("routing") or {}, source.get("sla") or {}
    return {
        "case_id": source["case_id"],
        "ready": 1 if source.get("case") else 0,
        "case_version": int(source.get("case_version") or 0),
        "reference": reference,
        "reference_text": reference.replace("-", " "),
        "title": str(case.get("title") or ""),
        "description": str(case.get("description") or ""),
        "type": str(case.get("type") or NO_VALUE),
        "stage": str(case.get("stage") or NO_VALUE),
        "status": str(case.get("status") or NO_VALUE),
        "priority": priority,
        "priority_rank": rank,
        "channel": str(case.get("channel") or NO_VALUE),
        "team": str(case.get("team") or NO_TEAM),
        "restricted": 1 if case.get("restricted") else 0,
        "queue": str(routing.get("queue") or NO_VALUE),
        "assignee": str(routing.get("assignee") or NO_VALUE),
        "sla": str(sla.get("state") or "ok"),
        "names": [str(p.get("name") or "") for p in parties if p.get("name")],
        "emails": sorted({normalise_email(e) for p in parties for e in p.get("emails") or [] if e}),
        "phones": sorted(
            {normalise_phone(n, country_code) for p in parties for n in p.get("phones") or [] if n} - {""}
        ),
        "custom": _flatten(case.get("data") or {}),
        "notes": [n["body"] for n in notes if n.get("body")],
        "documents": [d["text"] for d in documents if d.get("text")],
        "filenames": [d["filename"] for d in documents if d.get("filename")],
        "created_at": created,
        "updated_at": parse_time(case.get("updated_at")),
        "closed_at": parse_time(case.get("closed_at")),
        "sort_date": by_date,
        "sort_priority": by_priority,
    }


def hit_fields(source: dict[str, Any]) -> dict[str, Any]:
    """What a search hit says about its case (besides score and highlights)."""
    case = source.get("case") or {}
    routing = source.get("routing") or {}
    return {
        "case_id": source["case_id"],
        "reference": case.get("reference", ""),
        "title": case.get("title", ""),
        "status": case.get("status", ""),
        "stage": case.get("stage", ""),
        "priority": case.get("priority", "normal"),
        "type": case.get("type", ""),
        "queue": routing.get("queue"),
        "assignee": routing.get("assignee"),
        "sla": (source.get("sla") or {}).get("state", "ok"),
        "created_at": case.get("created_at"),
        "case_version": int(source.get("case_version") or 0),
    }


def text_pieces(source: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    """Every searchable text of a case as (where, id, field, text): for snippets saying where."""
    case = source.get("case") or {}
    out: list[tuple[str, str | None, str, str]] = [
        ("title", None, "title", str(case.get("title") or "")),
        ("description", None, "description", str(case.get("description") or "")),
        ("reference", None, "reference_text", str(case.get("reference") or "").replace("-", " ")),
    ]
    for party in case.get("parties") or []:
        out.append(("party", party.get("id"), "names", str(party.get("name") or "")))
        for email in party.get("emails") or []:
            out.append(("party", party.get("id"), "emails", normalise_email(email)))
        for phone in party.get("phones") or []:
            out.append(("party", party.get("id"), "phones", normalise_phone(phone)))
    out.append(("custom", None, "custom", " ".join(_flatten(case.get("data") or {}))))
    for note_id, note in sorted((source.get("notes") or {}).items()):
        out.append(("note", note_id, "notes", note.get("body") or ""))
    for document_id, doc in sorted((source.get("documents") or {}).items()):
        out.append((doc.get("kind") or "document", document_id, "documents", doc.get("text") or ""))
        out.append(("filename", document_id, "filenames", doc.get("filename") or ""))
    return [p for p in out if p[3]]
