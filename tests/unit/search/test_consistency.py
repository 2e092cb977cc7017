"""Events out of order and redelivered: the index ends identical to the database (the source of truth)."""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.search import mappings
from services.search.indexing import Indexer, check_drift, compare
from services.search.queries import Visibility, build_request
from services.search.tantivy_index import TantivyEngine
from tests.unit.search.factories import (
    case_event,
    document_event,
    document_removed,
    note_event,
    routing_event,
    snapshot,
)

ALL = Visibility(everything=True)


def history(versions: int, note_edits: int, documents: list[bool], assignees: list[str]) -> dict[str, Any]:
    """One case's events and the state the database ends in."""
    case = snapshot()
    events: list[dict[str, Any]] = []
    final_case = None
    for v in range(1, versions + 1):
        final_case = {**case, "version": v, "title": f"title v{v}", "stage": f"stage{v}"}
        events.append(case_event(final_case, v, type="case_opened" if v == 1 else "case_updated"))
    note_id = str(uuid.uuid4())
    for edit in range(1, note_edits + 1):
        e = note_event(final_case, versions, f"note edit{edit}", note_id, updated=100 + edit)
        e["type"] = "note_added" if edit == 1 else "note_updated"
        events.append(e)
    kept = {}
    for n, removed in enumerate(documents):
        document_id = str(uuid.uuid4())
        events.append(document_event(case["id"], document_id, f"document text{n}"))
        if removed:
            events.append(document_removed(case["id"], document_id))
        else:
            kept[document_id] = f"document text{n}"
    queue = None
    for n, assignee in enumerate(assignees):
        queue = f"queue{n}"
        events.append(routing_event(case["id"], "case_assigned", 200 + n, queue=queue, assignee=assignee))
    database = {
        "case": {**final_case, "version": versions},
        "note": f"note edit{note_edits}" if note_edits else None,
        "documents": kept,
        "routing": (queue, assignees[-1] if assignees else None),
    }
    return {"id": case["id"], "events": events, "database": database}


histories = st.builds(
    history,
    versions=st.integers(1, 4),
    note_edits=st.integers(0, 3),
    documents=st.lists(st.booleans(), max_size=3),
    assignees=st.lists(st.sampled_from(["u1", "u2", "u3"]), max_size=3),
)


def state_of(indexer: Indexer, case_id: str) -> dict[str, Any]:
    source = indexer.engine.get_source(case_id)
    assert source is not None
    notes = [n["body"] for n in source["notes"].values()]
    return {
        "case": source["case"],
        "note": notes[0] if notes else None,
        "documents": {k: d["text"] for k, d in source["documents"].items()},
        "routing": (source["routing"]["queue"], source["routing"]["assignee"]),
    }


@settings(max_examples=40)
@given(cases=st.lists(histories, min_size=1, max_size=3), data=st.data())
def test_any_order_any_number_of_times_ends_at_the_database(cases: list[dict[str, Any]], data: Any) -> None:
    events = [e for h in cases for e in h["events"]]
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    delivery = data.draw(st.permutations(events + redelivered))
    commit_after = data.draw(st.sets(st.integers(0, len(delivery))))
    with tempfile.TemporaryDirectory() as tmp:
        indexer = Indexer(TantivyEngine(tmp, heap_bytes=15_000_000))
        for n, event in enumerate(delivery):
            indexer.apply(event)
            if n in commit_after:
                indexer.commit()
        indexer.commit()

        for h in cases:
            assert state_of(indexer, h["id"]) == h["database"]
            assert indexer.entry(h["id"]) == {
                "case_id": h["id"],
                "copies": 1,
                "versions": [h["database"]["case"]["version"]],
            }
            title = h["database"]["case"]["title"]
            found = indexer.search(build_request(f'"{title}"', limit=50), ALL)["items"]
            assert h["id"] in [i["case_id"] for i in found]
        assert indexer.count("case") == len(cases)


def test_compare_names_missing_stale_and_extra_cases() -> None:
    drift = compare({"a": 1, "b": 2, "x": 1}, {"a": 1, "b": 3, "c": 1})

    assert drift == {"missing": ["c"], "stale": ["b"], "extra": ["x"]}


def test_the_drift_check_repairs_the_index_from_the_cases_service(tmp_path: Any) -> None:
    indexer = Indexer(TantivyEngine(tmp_path, heap_bytes=15_000_000))
    in_sync, behind, ahead, gone = (snapshot() for _ in range(4))
    missing = snapshot(title="Never indexed")
    for case, version in ((in_sync, 1), (behind, 1), (ahead, 5), (gone, 1)):
        indexer.apply(case_event(case, version))
    indexer.commit()
    database = [
        {**in_sync, "version": 1},
        {**behind, "version": 3, "title": "Caught up"},
        {**ahead, "version": 2, "title": "The database wins"},
        {**missing, "version": 1},
    ]

    report = check_drift(indexer, database)
    assert (report["missing"], report["stale"], report["extra"], report["repaired"]) == (1, 2, 1, 0)

    def write(method: str, *args: Any) -> Any:
        result = getattr(indexer, method)(*args)
        indexer.commit()
        return result

    repaired = check_drift(indexer, database, write=write)
    assert repaired["repaired"] == 4
    assert check_drift(indexer, database)["repaired"] == 0
    assert compare(indexer.versions(), {c["id"]: c["version"] for c in database}) == {
        "missing": [],
        "stale": [],
        "extra": [],
    }
    assert indexer.engine.get_source(ahead["id"])["case"]["title"] == "The database wins"
    assert indexer.indexed_version(gone["id"]) is None


def test_snapshot_envelopes_are_ordinary_cases_events() -> None:
    case = snapshot(version=4)

    envelope = mappings.snapshot_envelope(case)

    assert (envelope["producer"], envelope["case_version"], envelope["data"]["case"]) == ("cases", 4, case)


def test_lag_reports_the_oldest_unindexed_event_and_recent_delays() -> None:
    from services.search.indexing import Lag

    clock = [1000.0]
    lag = Lag(clock=lambda: clock[0])
    old = case_event(snapshot(), 1)
    old["occurred_at"] = "1970-01-01T00:16:30+00:00"  # 990 s
    new = case_event(snapshot(), 1)
    new["occurred_at"] = "1970-01-01T00:16:39.500000+00:00"  # 999.5 s
    lag.started(old)
    lag.started(new)

    report = lag.report(queued=7)
    assert (report["inflight"], report["queued"], report["oldest_unindexed_age_s"]) == (2, 7, 10.0)

    lag.finished(old)
    lag.finished(new)
    report = lag.report()
    assert (report["inflight"], report["oldest_unindexed_age_s"], report["recent_events"]) == (0, 0.0, 2)
    assert (report["lag_p50_ms"], report["lag_p99_ms"]) == (10000.0, 10000.0)
    assert report["lag_mean_ms"] == 5250.0
