"""The contract every search engine passes (embedded tantivy; Elasticsearch when ELASTICSEARCH_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from services.search.index import SearchEngine
from services.search.indexing import Indexer
from services.search.queries import Visibility, build_request
from tests.unit.search.conftest import Feed
from tests.unit.search.factories import (
    case_event,
    document_event,
    document_removed,
    note_event,
    routing_event,
    snapshot,
)

ALL = Visibility(everything=True)


def search(indexer: Indexer, q: str = "", visibility: Visibility = ALL, **kwargs: Any) -> dict[str, Any]:
    return indexer.search(build_request(q, **kwargs), visibility)


def ids(indexer: Indexer, q: str = "", **kwargs: Any) -> list[str]:
    return [i["case_id"] for i in search(indexer, q, **kwargs)["items"]]


def opened(feed: Feed, **overrides: Any) -> dict[str, Any]:
    case = snapshot(**overrides)
    feed(case_event(case, 1, type="case_opened"))
    return case


# --- what is indexed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "boiler",  # title
        "heating",  # description
        "lovelace",  # party name
        "lovelase",  # a typo in a name
        "ada.lovelace@example.org",  # party email, any case
        "ADA.LOVELACE@EXAMPLE.ORG",
        "+44 20 7946 0000",  # party phone, international
        "020 7946 0000",  # ... and national format
        "gas",  # custom field value
        "complaint",  # nothing else says complaint: the type is not free text, but the filter is
    ][:-1],
)
def test_a_case_is_found_by_anything_on_it(indexer: Indexer, feed: Feed, query: str) -> None:
    case = opened(feed)
    opened(feed, title="Noisy neighbours", description="", data={}, parties=[])

    assert ids(indexer, query) == [case["id"]]


def test_a_case_is_found_by_its_exact_reference(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    other = opened(feed)

    assert ids(indexer, case["reference"]) == [case["id"]]
    assert ids(indexer, f"  {other['reference']} ") == [other["id"]]


def test_notes_documents_and_filenames_are_searchable_and_say_where(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    document_id = str(uuid.uuid4())
    feed(
        note_event(case, 2, "Customer called about the xylophone noise"),
        document_event(
            case["id"], document_id, "The radiator valve leaks onto the floor", "survey-report.pdf"
        ),
    )

    [note_hit] = search(indexer, "xylophone")["items"]
    [doc_hit] = search(indexer, "radiator")["items"]
    [title_hit] = search(indexer, "boiler")["items"]

    assert note_hit["matched_in"] == ["note"] and note_hit["highlights"][0]["where"] == "note"
    assert "<b>xylophone</b>" in note_hit["highlights"][0]["snippet"]
    assert doc_hit["matched_in"] == ["document"] and doc_hit["highlights"][0]["where"] == "document"
    assert title_hit["matched_in"] == ["case"] and title_hit["highlights"][0]["where"] == "title"
    assert ids(indexer, "survey") == [case["id"]]
    assert title_hit["reference"] == case["reference"] and title_hit["case_version"] == 2


def test_phrases_prefixes_and_exclusions(indexer: Indexer, feed: Feed) -> None:
    boiler = opened(feed, title="Broken boiler in flat three")
    other = opened(feed, title="Boiler broken again", description="", data={})

    assert ids(indexer, '"broken boiler"') == [boiler["id"]]
    assert set(ids(indexer, "boil*")) == {boiler["id"], other["id"]}
    assert ids(indexer, "boiler -again") == [boiler["id"]]
    assert ids(indexer, "boiler again") == [other["id"]]  # every word must match


def test_routing_and_sla_are_indexed(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    feed(
        routing_event(case["id"], "case_queued", 10, queue="billing", reference=case["reference"]),
        routing_event(case["id"], "case_assigned", 11, queue="billing", assignee="u-7"),
        routing_event(case["id"], "sla_breached", 12),
    )

    [hit] = search(indexer, "queue:billing assignee:u-7 sla:breached")["items"]
    assert (hit["queue"], hit["assignee"], hit["sla"]) == ("billing", "u-7", "breached")
    feed(routing_event(case["id"], "case_unassigned", 13, queue="billing"))
    assert search(indexer, "assignee:u-7")["items"] == []


# --- filters, ranges, facets, sorting, cursors ---------------------------------------------------


def _portfolio(feed: Feed) -> dict[str, dict[str, Any]]:
    cases = {
        "a": opened(
            feed, type="complaint", priority="low", stage="received", created_at="2026-01-01T10:00:00+00:00"
        ),
        "b": opened(
            feed, type="complaint", priority="high", stage="triage", created_at="2026-02-01T10:00:00+00:00"
        ),
        "c": opened(
            feed, type="claim", priority="urgent", stage="triage", created_at="2026-03-01T10:00:00+00:00"
        ),
        "d": opened(
            feed, type="claim", priority="normal", status="closed", created_at="2026-04-01T10:00:00+00:00"
        ),
    }
    feed(routing_event(cases["c"]["id"], "case_queued", 5, queue="claims"))
    return cases


def test_field_filters_and_ranges(indexer: Indexer, feed: Feed) -> None:
    c = _portfolio(feed)

    assert set(ids(indexer, "type:claim")) == {c["c"]["id"], c["d"]["id"]}
    assert set(ids(indexer, "boiler type:complaint stage:triage")) == {c["b"]["id"]}
    assert set(ids(indexer, "status:closed")) == {c["d"]["id"]}
    assert set(ids(indexer, "priority:>=high")) == {c["b"]["id"], c["c"]["id"]}
    assert set(ids(indexer, "priority:low..normal")) == {c["a"]["id"], c["d"]["id"]}
    assert set(ids(indexer, "created:>=2026-02-15")) == {c["c"]["id"], c["d"]["id"]}
    assert set(ids(indexer, "created:2026-01-15..2026-03-15")) == {c["b"]["id"], c["c"]["id"]}
    assert set(ids(indexer, filters={"type": "claim"}, ranges={"created": "..2026-03-15"})) == {c["c"]["id"]}
    assert set(ids(indexer, "queue:claims")) == {c["c"]["id"]}


def test_facets_count_the_matching_cases(indexer: Indexer, feed: Feed) -> None:
    _portfolio(feed)

    result = search(indexer, "boiler", facets=True)
    facets = {name: {b["value"]: b["count"] for b in buckets} for name, buckets in result["facets"].items()}

    assert result["total_hits"] == 4
    assert facets["type"] == {"complaint": 2, "claim": 2}
    assert facets["stage"] == {"received": 2, "triage": 2}
    assert facets["status"] == {"open": 3, "closed": 1}
    assert facets["priority"] == {"low": 1, "normal": 1, "high": 1, "urgent": 1}
    assert facets["queue"] == {None: 3, "claims": 1}
    assert facets["sla"] == {"ok": 4}
    narrowed = search(indexer, "type:claim", facets=True)["facets"]
    assert {b["value"]: b["count"] for b in narrowed["type"]} == {"claim": 2}


def test_sorting_by_date_and_priority(indexer: Indexer, feed: Feed) -> None:
    c = _portfolio(feed)
    order = lambda *keys: [c[k]["id"] for k in keys]  # noqa: E731

    assert ids(indexer, sort="newest") == order("d", "c", "b", "a")
    assert ids(indexer, sort="oldest") == order("a", "b", "c", "d")
    assert ids(indexer, sort="priority") == order("c", "b", "d", "a")
    assert ids(indexer, sort="priority_asc") == order("a", "d", "b", "c")


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest", "priority"])
def test_a_cursor_walks_every_match_once(indexer: Indexer, feed: Feed, sort: str) -> None:
    cases = [
        snapshot(created_at=f"2026-01-{1 + n % 5:02d}T10:00:00+00:00", priority="high") for n in range(23)
    ]
    feed(*[case_event(c, 1, type="case_opened") for c in cases])
    seen: list[str] = []
    cursor = None
    for _ in range(30):
        page = search(indexer, "boiler", limit=5, sort=sort, cursor=cursor)
        seen += [i["case_id"] for i in page["items"]]
        assert page["total_hits"] == 23
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c["id"] for c in cases)


# --- lookup and suggestions ----------------------------------------------------------------------


def test_instant_lookup_by_reference_email_and_phone(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    opened(feed, parties=[])

    for kind, value in [
        ("reference", case["reference"]),
        ("email", "ada.lovelace@EXAMPLE.org"),
        ("phone", "020 7946 0000"),
        ("phone", "+442079460000"),
    ]:
        assert [h["case_id"] for h in indexer.lookup(kind, value, ALL)] == [case["id"]], (kind, value)
    assert indexer.lookup("email", "nobody@example.org", ALL) == []


def test_typeahead_suggests_words_and_cases(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed, title="Xylophone noise at night")
    opened(feed, title="Broken window")

    suggestions = indexer.suggest("xylo", ALL)

    assert [t["text"] for t in suggestions["terms"]] == ["xylophone"]
    assert [c["case_id"] for c in suggestions["cases"]] == [case["id"]]
    assert indexer.suggest("xylophone noi", ALL)["cases"][0]["case_id"] == case["id"]


# --- consistency ---------------------------------------------------------------------------------


def test_a_stale_version_never_overwrites_a_newer_one(indexer: Indexer, feed: Feed) -> None:
    case = snapshot(title="Current title")
    assert feed(case_event(case, 5)) == [True]

    assert feed(case_event({**case, "title": "Stale title"}, 4)) == [False]
    assert ids(indexer, "stale") == [] and ids(indexer, "current") == [case["id"]]
    assert indexer.indexed_version(case["id"]) == 5


def test_a_redelivered_event_leaves_one_document(indexer: Indexer, feed: Feed) -> None:
    case = snapshot()
    event = case_event(case, 3)

    assert feed(event, event, event) == [True, False, False]
    assert indexer.entry(case["id"]) == {"case_id": case["id"], "copies": 1, "versions": [3]}
    assert indexer.count("case") == 1 and search(indexer, "boiler")["total_hits"] == 1
    assert indexer.duplicates() == []


def test_document_text_before_its_case_waits_hidden(indexer: Indexer, feed: Feed) -> None:
    case = snapshot()
    feed(document_event(case["id"], str(uuid.uuid4()), "orphaned xylophone text"))

    assert ids(indexer, "xylophone") == [] and indexer.count("case") == 0
    assert indexer.indexed_version(case["id"]) is None
    feed(case_event(case, 1, type="case_opened"))
    assert ids(indexer, "xylophone") == [case["id"]]


def test_a_removed_document_stays_removed(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    document_id = str(uuid.uuid4())
    text = document_event(case["id"], document_id, "xylophone")
    feed(text)

    feed(document_removed(case["id"], document_id))
    assert ids(indexer, "xylophone") == []
    assert feed(text) == [False]  # redelivered after the removal
    assert ids(indexer, "xylophone") == []


def test_an_edited_note_replaces_its_old_text_and_an_old_edit_does_not(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    note_id = str(uuid.uuid4())
    feed(note_event(case, 2, "first draft about gutters", note_id, updated=20))
    new = note_event(case, 3, "final text about chimneys", note_id, updated=30)
    new["type"] = "note_updated"
    feed(new)
    feed(note_event(case, 2, "first draft about gutters", note_id, updated=20))  # redelivered, older

    assert ids(indexer, "chimneys") == [case["id"]] and ids(indexer, "gutters") == []


def test_the_index_survives_reopening(make_engine: Callable[[], SearchEngine]) -> None:
    first = Indexer(make_engine())
    case = snapshot()
    first.apply(case_event(case, 7))
    first.commit()
    first.engine.close()

    again = Indexer(make_engine())

    assert again.indexed_version(case["id"]) == 7
    assert [i["case_id"] for i in again.search(build_request("boiler"), ALL)["items"]] == [case["id"]]
    assert again.apply(case_event(case, 6)) is False


def test_rollback_discards_staged_writes(indexer: Indexer, feed: Feed) -> None:
    opened(feed)
    indexer.apply(case_event(snapshot(title="Uncommitted giraffe"), 1))

    indexer.rollback()
    indexer.commit()

    assert ids(indexer, "giraffe") == [] and indexer.count("case") == 1


@pytest.mark.parametrize(
    "query", ['"unbalanced boiler', "boiler)", "title:(", "AND", ":", "*", "", 'a"b"c"', "\x00"]
)
def test_a_malformed_query_returns_results_not_an_error(indexer: Indexer, feed: Feed, query: str) -> None:
    opened(feed)

    result = search(indexer, query)

    assert isinstance(result["items"], list) and isinstance(result["total_hits"], int)


# --- rebuild -------------------------------------------------------------------------------------


def test_a_rebuild_swaps_in_a_new_index_that_keeps_writes_made_meanwhile(
    indexer: Indexer, feed: Feed
) -> None:
    before = [opened(feed) for _ in range(7)]
    batches = indexer.begin_rebuild(batch=3)
    first = next(batches)
    indexer.copy_batch(first)
    during = snapshot(title="Written during the rebuild")
    indexer.apply(case_event(during, 1))
    indexer.apply(case_event({**before[0], "title": "Renamed meanwhile"}, 2))
    indexer.commit()
    assert ids(indexer, "meanwhile") == [before[0]["id"]]  # the live index keeps answering
    for batch in batches:
        indexer.copy_batch(batch)
    indexer.finish_rebuild()

    assert indexer.count("case") == 8
    assert ids(indexer, "meanwhile") == [before[0]["id"]]
    assert indexer.indexed_version(before[0]["id"]) == 2
    assert ids(indexer, "during") == [during["id"]]
    assert indexer.entry(before[3]["id"])["copies"] == 1


def test_an_aborted_rebuild_leaves_the_live_index_alone(indexer: Indexer, feed: Feed) -> None:
    case = opened(feed)
    batches = indexer.begin_rebuild(batch=10)
    indexer.copy_batch(next(batches))

    indexer.abort_rebuild("operator cancelled")

    assert indexer.shadow is None and indexer.rebuild.error == "operator cancelled"
    assert ids(indexer, "boiler") == [case["id"]]
    feed(case_event({**case, "title": "Still writable"}, 2))
    assert ids(indexer, "writable") == [case["id"]]


def test_the_embedded_engine_removes_shadows_of_unfinished_rebuilds(tmp_path: Any) -> None:
    from services.search.tantivy_index import TantivyEngine

    live = TantivyEngine(tmp_path, heap_bytes=15_000_000)
    shadow = live.create_shadow()
    shadow.close()
    live.close()

    again = TantivyEngine(tmp_path, heap_bytes=15_000_000)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["current", again.path.name])
    assert again.path == live.path


def test_message_text_is_searchable_and_says_so(indexer: Indexer, feed: Feed) -> None:
    from casekit.contracts.events import make_envelope

    case = opened(feed)
    message = make_envelope(
        producer="notifications",
        type="message_received",
        case_id=case["id"],
        data={"message_id": "m-1", "subject": "Re: your boiler", "body": "The engineer never came, tuesday"},
    )
    feed(message)

    [hit] = search(indexer, "tuesday")["items"]
    assert hit["case_id"] == case["id"] and hit["matched_in"] == ["message"]
    assert hit["highlights"][0]["where"] == "message" and hit["highlights"][0]["id"] == "m-1"
