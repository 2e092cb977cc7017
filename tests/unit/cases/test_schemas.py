"""The wire shapes built from rows: links seen from either case, timeline items, SLA in the snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

from services.cases.definitions import Definition
from services.cases.models import AuditEntry, Case, CaseLink
from services.cases.schemas import link_out, sla_out, timeline_item

A, B = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


def test_a_link_reads_from_either_side() -> None:
    for kind, inverse in (
        ("related", "related"),
        ("parent_of", "child_of"),
        ("child_of", "parent_of"),
        ("duplicate_of", "duplicated_by"),
        ("merged_into", "merged_from"),
    ):
        link = CaseLink(id="l", case_id=A, target_id=B, kind=kind)
        assert link_out(link, A) == {"id": "l", "kind": kind, "case_id": B}
        assert link_out(link, B) == {"id": "l", "kind": inverse, "case_id": A}


def test_a_timeline_item_of_an_opening_keeps_the_headline_fields_only() -> None:
    entry = AuditEntry(
        seq=1,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        actor_id="u",
        action="case_opened",
        changes={"after": {"title": "T", "stage": "new", "priority": "low", "status": "open", "notes": []}},
    )
    assert timeline_item(entry) == {
        "seq": 1,
        "at": "2026-01-01T00:00:00+00:00",
        "actor_id": "u",
        "action": "case_opened",
        "detail": {"title": "T", "stage": "new", "priority": "low", "status": "open"},
    }


def test_the_sla_of_a_case_is_its_types_target_for_its_priority_and_stage() -> None:
    definition = Definition("t", 1, {"key": "t", "stages": [{"key": "new"}], "sla": {"high": {"new": 4}}})
    assert sla_out(Case(priority="high", stage="new"), definition) == {
        "priority": "high",
        "stage": "new",
        "target_hours": 4.0,
    }
    assert sla_out(Case(priority="low", stage="new"), definition) is None
