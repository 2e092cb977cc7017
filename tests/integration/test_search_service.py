"""The search service keeps a tantivy index in a tmp SEARCH_DATA_DIR, fed by real events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from casekit.contracts.events import make_envelope
from services.search.service import SearchService
from tests.integration.helpers import call

pytestmark = pytest.mark.integration


@pytest.fixture
def search(start_service: Callable[..., Any]) -> Any:
    return start_service(SearchService)


def case_opened(
    case_id: str, version: int, title: str, reference: str = "CASE-2030-000101"
) -> dict[str, Any]:
    data = {
        "id": case_id,
        "reference": reference,
        "type": "general",
        "title": title,
        "description": "",
        "priority": "normal",
        "status": "open",
        "stage": "new",
        "created_at": datetime.now(UTC).isoformat(),
        "parties": [{"name": "Grace Hopper", "emails": ["grace@example.org"], "phones": []}],
    }
    return make_envelope(
        producer="cases", type="case_opened", case_id=case_id, case_version=version, data={"case": data}
    )


def deliver(container: Any, entrypoint: str, source: str, envelope: dict[str, Any]) -> None:
    with entrypoint_waiter(container, entrypoint, timeout=10) as result:
        event_dispatcher(container.config)(source, envelope["type"], envelope)
    result.get()


def found(container: Any, q: str) -> list[str]:
    return [item["case_id"] for item in call(container, "search", q)["items"]]


def test_a_stale_version_never_replaces_a_newer_one(search: Any) -> None:
    case_id = str(uuid.uuid4())
    deliver(search, "handle_case_opened", "cases", case_opened(case_id, 2, "flooded basement"))
    deliver(search, "handle_case_opened", "cases", case_opened(case_id, 1, "dripping tap"))
    assert call(search, "indexed_version", case_id) == 2
    assert found(search, "basement") == [case_id]
    assert found(search, "dripping") == []
    assert call(search, "indexed_version", str(uuid.uuid4())) is None


def test_duplicate_delivery_leaves_one_document(search: Any) -> None:
    case_id = str(uuid.uuid4())
    event = case_opened(case_id, 1, "stolen bicycle", reference="CASE-2030-000555")
    deliver(search, "handle_case_opened", "cases", event)
    deliver(search, "handle_case_opened", "cases", event)
    assert call(search, "health")["cases"] == 1
    assert call(search, "search", "bicycle")["total_hits"] == 1
    assert found(search, "CASE-2030-000555") == [case_id]
    assert found(search, "hopper") == [case_id], "parties are searchable"


def test_document_text_makes_its_case_findable(search: Any) -> None:
    case_id = str(uuid.uuid4())
    deliver(search, "handle_case_opened", "cases", case_opened(case_id, 1, "noise complaint"))
    assert found(search, "xylophone") == []
    text_event = make_envelope(
        producer="documents",
        type="document_text_extracted",
        case_id=case_id,
        data={"document_id": str(uuid.uuid4()), "filename": "diary.txt", "text": "a xylophone at 3am"},
    )
    deliver(search, "handle_document_text_extracted", "documents", text_event)
    [item] = call(search, "search", "xylophone")["items"]
    assert (item["case_id"], item["title"], item["matched_in"]) == (case_id, "noise complaint", ["document"])
    assert call(search, "health")["cases"] == 1, "a document is not a case"


def test_versions_racing_in_one_group_commit_keep_the_newest(search: Any) -> None:
    case_id = str(uuid.uuid4())
    events = [case_opened(case_id, v, f"title version{v}") for v in (3, 2, 1)]
    done: list[int] = []

    def all_handled(worker_ctx: Any, _result: Any, _exc_info: Any) -> bool:
        done.append(worker_ctx.args[0]["case_version"])
        return len(done) == len(events)

    with entrypoint_waiter(search, "handle_case_opened", timeout=10, callback=all_handled):
        dispatch = event_dispatcher(search.config)
        for event in events:
            dispatch("cases", "case_opened", event)
    assert call(search, "indexed_version", case_id) == 3
    assert found(search, "version3") == [case_id]
    assert call(search, "health")["cases"] == 1
