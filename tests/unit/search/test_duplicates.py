"""A case with two documents in the embedded index is found, read as its newest copy, and collapsed.

Every write deletes by case id before it adds, so two copies should never exist; the long fault
tier once found one after the search process was SIGKILLed under load. These tests plant a second
copy with tantivy's writer directly (an add without the delete) and check the three defences:
reads pick the newest copy, the periodic sweep collapses it, and the drift check reports and
repairs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import eventlet
import pytest

from services.search import mappings
from services.search.dependencies import GroupCommit
from services.search.indexing import Indexer, check_drift
from services.search.tantivy_index import TantivyEngine
from services.search.tantivy_queries import to_document
from tests.unit.search.factories import case_event, routing_event, snapshot


def plant(engine: TantivyEngine, source: dict[str, Any]) -> None:
    """Add a copy of ``source`` without deleting the case's other documents first."""
    engine.writer.add_document(to_document(source, engine.country_code))
    engine.commit()


@pytest.fixture
def indexer(tmp_path: Path) -> Indexer:
    return Indexer(TantivyEngine(tmp_path / "index"))


def twice_indexed(indexer: Indexer) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case indexed at version 1, then routed; the version-1 copy comes back beside the routed one."""
    case = snapshot(title="Leaking boiler")
    indexer.apply(case_event(case, 1, type="case_opened"))
    indexer.commit()
    old = indexer.engine.get_source(case["id"])
    indexer.apply(routing_event(case["id"], "case_assigned", 100, queue="billing", assignee="ann"))
    indexer.commit()
    new = indexer.engine.get_source(case["id"])
    assert old is not None and new is not None and new["routing"]["queue"] == "billing"
    plant(indexer.engine, old)
    return old, new


def test_a_clean_index_has_no_duplicates(indexer: Indexer) -> None:
    case = snapshot()
    event = case_event(case, 2)
    indexer.apply(event)
    indexer.apply(event)
    indexer.commit()

    assert indexer.duplicates() == []
    assert indexer.collapse([]) == 0


def test_a_second_copy_is_found_and_reads_return_the_newest(indexer: Indexer) -> None:
    old, new = twice_indexed(indexer)
    case_id = new["case_id"]

    assert indexer.entry(case_id)["copies"] == 2
    assert indexer.duplicates() == [case_id]
    assert indexer.engine.get_source(case_id) == new  # not the stale copy, whichever tantivy returns first


def test_collapse_keeps_only_the_newest_copy(indexer: Indexer) -> None:
    _old, new = twice_indexed(indexer)
    case_id = new["case_id"]

    assert indexer.collapse([case_id]) == 1
    indexer.commit()

    assert indexer.entry(case_id) == {"case_id": case_id, "copies": 1, "versions": [1]}
    assert indexer.engine.get_source(case_id)["routing"]["queue"] == "billing"
    assert indexer.duplicates() == [] and indexer.collapsed == 1


def test_the_group_commit_sweep_collapses_duplicates(indexer: Indexer) -> None:
    _old, new = twice_indexed(indexer)
    group = GroupCommit(indexer, interval=0.01)
    try:
        assert group.sweep() == 1
        assert indexer.entry(new["case_id"])["copies"] == 1
        assert group.sweep() == 0  # nothing left to do
    finally:
        group.stop()
        eventlet.sleep(0)


def test_the_drift_check_reports_and_repairs_duplicates(indexer: Indexer) -> None:
    _old, new = twice_indexed(indexer)
    case = {**new["case"], "version": 1}

    def write(method: str, *args: Any) -> Any:
        result = getattr(indexer, method)(*args)
        indexer.commit()
        return result

    report = check_drift(indexer, [case], write=None)
    assert report["duplicated"] == 1 and report["sample"]["duplicated"] == [case["id"]]

    repaired = check_drift(indexer, [case], write=write)
    assert repaired["repaired"] == 1
    assert check_drift(indexer, [case])["duplicated"] == 0


def test_newest_prefers_the_higher_version_then_the_later_event() -> None:
    base = mappings.empty_source("c1")
    v1_late = {**base, "case_version": 1, "last_event_at": "2026-12-06T10:00:00+00:00"}
    v2_early = {**base, "case_version": 2, "last_event_at": "2026-12-06T09:00:00+00:00"}
    v1_early = {**base, "case_version": 1, "last_event_at": "2026-12-06T08:00:00+00:00"}

    assert mappings.newest([v1_late, v2_early, v1_early]) is v2_early
    assert mappings.newest([v1_early, v1_late]) is v1_late
    assert mappings.newest([]) is None
