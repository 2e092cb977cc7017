"""The search service on real RabbitMQ: events from every producer feed a tantivy index in a tmp dir."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter, replace_dependencies

from casekit.contracts.events import make_envelope
from casekit.errors import InvalidInput, PermissionDenied
from services.search.dependencies import Index
from services.search.service import SearchService
from services.search.tantivy_queries import to_document
from tests.integration.helpers import call, eventually

pytestmark = pytest.mark.integration

ADMIN = {"user_id": "admin-1", "roles": "admin"}
NORTH_AGENT = {"user_id": "agent-n", "roles": "agent", "teams": "north"}


@pytest.fixture
def search(start_service: Callable[..., Any]) -> Any:
    return start_service(SearchService)


def snapshot(case_id: str, version: int, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "reference": extra.pop("reference", "CASE-2030-000101"),
        "type": "general",
        "title": title,
        "description": "",
        "priority": "normal",
        "status": "open",
        "stage": "new",
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "updated_at": datetime.now(UTC).isoformat(),
        "parties": [{"id": "p1", "name": "Grace Hopper", "emails": ["grace@example.org"], "phones": []}],
        "team": None,
        "restricted": False,
        **extra,
    }


def case_event(case_id: str, version: int, title: str, type: str = "case_opened", **extra: Any) -> dict:  # noqa: A002
    data = {"case": snapshot(case_id, version, title, **{k: v for k, v in extra.items() if k != "note"})}
    if "note" in extra:
        data["note"] = extra["note"]
    return make_envelope(producer="cases", type=type, case_id=case_id, case_version=version, data=data)


def deliver(container: Any, entrypoint: str, source: str, envelope: dict[str, Any]) -> None:
    with entrypoint_waiter(container, entrypoint, timeout=10) as result:
        event_dispatcher(container.config)(source, envelope["type"], envelope)
    result.get()


def found(container: Any, q: str, context: dict | None = None) -> list[str]:
    return [item["case_id"] for item in call(container, "search", q, context=context)["items"]]


def test_a_stale_version_never_replaces_a_newer_one(search: Any) -> None:
    case_id = str(uuid.uuid4())
    deliver(search, "handle_case_event", "cases", case_event(case_id, 2, "flooded basement", "case_updated"))
    deliver(search, "handle_case_event", "cases", case_event(case_id, 1, "dripping tap"))
    assert call(search, "indexed_version", case_id) == 2
    assert found(search, "basement") == [case_id]
    assert found(search, "dripping") == []
    assert call(search, "indexed_version", str(uuid.uuid4())) is None


def test_duplicate_delivery_leaves_one_document(search: Any) -> None:
    case_id = str(uuid.uuid4())
    event = case_event(case_id, 1, "stolen bicycle", reference="CASE-2030-000555")
    deliver(search, "handle_case_event", "cases", event)
    deliver(search, "handle_case_event", "cases", event)
    assert call(search, "health")["cases"] == 1
    assert call(search, "search", "bicycle")["total_hits"] == 1
    assert found(search, "CASE-2030-000555") == [case_id]
    assert found(search, "hopper") == [case_id], "parties are searchable"
    assert call(search, "index_entries", [case_id]) == [{"case_id": case_id, "copies": 1, "versions": [1]}]


def test_the_sweep_collapses_a_case_held_twice(search: Any) -> None:
    """A second copy of a case (an add without the delete, planted under the writers' lock) is
    found by the periodic sweep and collapsed to the newest; the status counts it."""
    case_id = str(uuid.uuid4())
    deliver(search, "handle_case_event", "cases", case_event(case_id, 1, "flooded cellar"))
    deliver(
        search, "handle_case_event", "cases", case_event(case_id, 2, "flooded cellar", type="case_updated")
    )
    group = next(d for d in search.dependencies if isinstance(d, Index)).group
    engine = group.index.engine
    stale = {**engine.get_source(case_id), "case_version": 1}
    group.locked(lambda: engine.writer.add_document(to_document(stale, engine.country_code)))
    eventually(lambda: call(search, "index_entries", [case_id])[0]["copies"] == 2)

    with entrypoint_hook(search, "duplicate_sweep") as sweep:
        sweep()

    assert call(search, "index_entries", [case_id]) == [{"case_id": case_id, "copies": 1, "versions": [2]}]
    assert call(search, "status", context=ADMIN)["duplicates_collapsed"] == 1
    assert call(search, "search", "cellar")["total_hits"] == 1


def test_every_producer_feeds_the_case_document(search: Any) -> None:
    case_id = str(uuid.uuid4())
    deliver(search, "handle_case_event", "cases", case_event(case_id, 1, "noise complaint"))
    note = {
        "id": "n1",
        "body": "neighbour plays the tuba",
        "visibility": "internal",
        "created_at": "2030-01-01T00:00:00+00:00",
    }
    deliver(
        search,
        "handle_case_event",
        "cases",
        case_event(case_id, 2, "noise complaint", "note_added", note=note),
    )
    document_id = str(uuid.uuid4())
    text = make_envelope(
        producer="documents",
        type="document_text_extracted",
        case_id=case_id,
        data={"document_id": document_id, "filename": "diary.txt", "text": "a xylophone at 3am"},
    )
    deliver(search, "handle_document_event", "documents", text)
    for kind, data in (
        ("case_queued", {"queue": "noise"}),
        ("case_assigned", {"queue": "noise", "assignee": "u9"}),
    ):
        event = make_envelope(producer="routing", type=kind, case_id=case_id, case_version=2, data=data)
        deliver(search, "handle_routing_event", "routing", event)
    deliver(
        search,
        "handle_routing_event",
        "routing",
        make_envelope(producer="routing", type="sla_warning", case_id=case_id, data={}),
    )

    [item] = call(search, "search", "xylophone")["items"]
    assert (item["case_id"], item["title"], item["matched_in"]) == (case_id, "noise complaint", ["document"])
    assert call(search, "search", "tuba")["items"][0]["matched_in"] == ["note"]
    assert (item["queue"], item["assignee"], item["sla"]) == ("noise", "u9", "warning")
    facets = call(search, "search", "", facets=True)["facets"]
    assert facets["assignee"] == [{"value": "u9", "count": 1}]

    removed = make_envelope(
        producer="documents", type="document_removed", case_id=case_id, data={"document_id": document_id}
    )
    deliver(search, "handle_document_event", "documents", removed)
    assert found(search, "xylophone") == []
    assert call(search, "health")["cases"] == 1


def test_searches_are_trimmed_to_what_the_caller_may_see(search: Any) -> None:
    open_id, north_id, south_id, sealed_id = (str(uuid.uuid4()) for _ in range(4))
    for case_id, extra in (
        (open_id, {}),
        (north_id, {"team": "north"}),
        (south_id, {"team": "south"}),
        (sealed_id, {"team": "north", "restricted": True}),
    ):
        deliver(search, "handle_case_event", "cases", case_event(case_id, 1, "canary", **extra))

    assert set(found(search, "canary", ADMIN)) == {open_id, north_id, south_id, sealed_id}
    assert set(found(search, "canary", NORTH_AGENT)) == {open_id, north_id}
    assert call(search, "search", "canary", context=NORTH_AGENT)["total_hits"] == 2
    assert call(search, "suggest", "cana", context=NORTH_AGENT)["terms"] == [{"text": "canary", "count": 2}]
    assert call(search, "lookup", "email", "GRACE@example.org", context=NORTH_AGENT) != []
    with pytest.raises(PermissionDenied):
        call(search, "search", "canary", context={"user_id": "", "roles": ""})
    with pytest.raises(InvalidInput):
        call(search, "search", "canary", sort="sideways")
    with pytest.raises(PermissionDenied):
        call(search, "status", context=NORTH_AGENT)


def test_versions_racing_in_one_group_commit_keep_the_newest(search: Any) -> None:
    case_id = str(uuid.uuid4())
    events = [case_event(case_id, v, f"title version{v}", "case_updated") for v in (3, 2, 1)]
    done: list[int] = []

    def all_handled(worker_ctx: Any, _result: Any, _exc_info: Any) -> bool:
        done.append(worker_ctx.args[0]["case_version"])
        return len(done) == len(events)

    with entrypoint_waiter(search, "handle_case_event", timeout=10, callback=all_handled):
        dispatch = event_dispatcher(search.config)
        for event in events:
            dispatch("cases", "case_updated", event)
    assert call(search, "indexed_version", case_id) == 3
    assert found(search, "version3") == [case_id]
    assert call(search, "health")["cases"] == 1
    lag = call(search, "status", context=ADMIN)["lag"]
    assert lag["recent_events"] >= 3 and lag["queued"] == 0 and lag["inflight"] == 0
    assert lag["oldest_unindexed_age_s"] == 0.0 and lag["lag_p99_ms"] is not None


def test_reindex_swaps_in_a_rebuilt_index_while_search_answers(search: Any) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]
    for n, case_id in enumerate(ids):
        deliver(search, "handle_case_event", "cases", case_event(case_id, 1, f"rebuild subject{n}"))

    started = call(search, "reindex", 5, context=ADMIN)
    assert started["started"] is True
    status = eventually(lambda: (s := call(search, "status", context=ADMIN))["rebuild"]["finished_at"] and s)
    assert status["rebuild"]["copied"] == 12 and status["rebuild"]["error"] is None
    assert status["cases"] == 12 and set(found(search, "rebuild")) == set(ids)


def test_the_drift_check_compares_with_the_cases_service_and_repairs(
    container_factory: Callable[..., Any], service_config: Callable[..., dict[str, Any]]
) -> None:
    container = container_factory(SearchService, service_config())
    cases_rpc = replace_dependencies(container, "cases_rpc")
    container.start()
    indexed, missing = str(uuid.uuid4()), str(uuid.uuid4())
    deliver(container, "handle_case_event", "cases", case_event(indexed, 1, "old title"))
    database = [snapshot(indexed, 2, "new title"), snapshot(missing, 1, "never indexed")]
    cases_rpc.list_cases.side_effect = [
        {"items": database[:1], "next_cursor": "c2"},
        {"items": database[1:], "next_cursor": None},
    ]

    report = call(container, "check_drift", context=ADMIN)
    assert (report["cases"], report["missing"], report["stale"], report["extra"]) == (2, 1, 1, 0)

    cases_rpc.list_cases.side_effect = [{"items": database, "next_cursor": None}]
    assert call(container, "check_drift", True, context=ADMIN)["repaired"] == 2
    assert found(container, "never") == [missing]
    assert call(container, "indexed_version", indexed) == 2
    with pytest.raises(PermissionDenied):
        call(container, "check_drift", context=NORTH_AGENT)
