"""The embedded tantivy index on a real temporary directory."""

from __future__ import annotations

import gc
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.search.index import TantivyIndex
from services.search.mappings import case_doc, document_text_doc


@pytest.fixture
def index(tmp_path: Path) -> TantivyIndex:
    return TantivyIndex(tmp_path / "index", heap_bytes=15_000_000)


def case(**overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "reference": "CMP-2024-000123",
        "title": "Broken boiler in flat three",
        "description": "No heating since Monday",
        "parties": [{"name": "Ada Lovelace", "emails": ["ada@example.org"], "phones": ["+44 20 7946 0000"]}],
        "type": "complaint",
        "status": "open",
        "stage": "triage",
        "priority": "high",
        "created_at": "2024-05-01T10:00:00+00:00",
        **overrides,
    }


def add_case(index: TantivyIndex, version: int = 1, **overrides: Any) -> dict[str, Any]:
    c = case(**overrides)
    assert index.upsert(case_doc(c, version))
    index.commit()
    return c


def attach(index: TantivyIndex, case_id: str, text: str, filename: str = "letter.txt") -> str:
    document_id = str(uuid.uuid4())
    index.upsert(document_text_doc({"document_id": document_id, "filename": filename, "text": text}, case_id))
    index.commit()
    return document_id


def found(index: TantivyIndex, q: str, limit: int = 20) -> list[str]:
    return [item["case_id"] for item in index.search(q, limit)["items"]]


def test_a_case_is_found_by_a_word_of_its_title(index: TantivyIndex) -> None:
    c = add_case(index)
    add_case(index, title="Noisy neighbours", reference="CMP-2024-000124", description="", parties=[])

    result = index.search("boiler")

    assert [i["case_id"] for i in result["items"]] == [c["id"]]
    item = result["items"][0]
    assert item["reference"] == "CMP-2024-000123"
    assert item["title"] == "Broken boiler in flat three"
    assert item["matched_in"] == ["case"]
    assert item["case_version"] == 1


def test_a_case_is_found_by_a_word_of_an_attached_documents_text(index: TantivyIndex) -> None:
    c = add_case(index)
    attach(index, c["id"], "The radiator valve is leaking onto the xylophone.")

    (item,) = index.search("xylophone")["items"]

    assert item["case_id"] == c["id"]
    assert item["matched_in"] == ["document"]
    assert item["title"] == c["title"]


def test_document_text_of_a_case_not_yet_indexed_is_not_listed(index: TantivyIndex) -> None:
    attach(index, str(uuid.uuid4()), "orphaned xylophone text")

    assert index.search("xylophone")["items"] == []


def test_a_case_is_found_by_its_exact_reference(index: TantivyIndex) -> None:
    c = add_case(index, reference="HOU-2025-000042")
    add_case(index, reference="HOU-2025-000043")

    assert found(index, "HOU-2025-000042") == [c["id"]]
    assert found(index, "  HOU-2025-000042 ") == [c["id"]]


def test_a_case_is_found_by_a_party_email(index: TantivyIndex) -> None:
    c = add_case(index)
    add_case(index, parties=[{"name": "Bob", "emails": ["bob@example.net"], "phones": []}])

    assert found(index, "ada@example.org") == [c["id"]]


def test_a_case_is_found_by_a_party_name(index: TantivyIndex) -> None:
    c = add_case(index)

    assert found(index, "lovelace") == [c["id"]]


def test_an_older_version_is_ignored(index: TantivyIndex) -> None:
    c = add_case(index, version=5, title="Current title")

    assert index.upsert(case_doc({**c, "title": "Stale title"}, 4)) is False
    index.commit()

    assert found(index, "stale") == []
    assert found(index, "current") == [c["id"]]
    assert index.indexed_version(c["id"]) == 5


def test_a_newer_version_replaces_the_old_one(index: TantivyIndex) -> None:
    c = add_case(index, version=1, title="First title")

    assert index.upsert(case_doc({**c, "title": "Second title"}, 2)) is True
    index.commit()

    assert found(index, "first") == []
    assert found(index, "second") == [c["id"]]
    assert index.indexed_version(c["id"]) == 2
    assert index.count("case") == 1


def test_an_older_version_is_ignored_even_before_the_newer_one_is_committed(index: TantivyIndex) -> None:
    c = case()
    index.upsert(case_doc({**c, "title": "Newer"}, 3))

    assert index.upsert(case_doc({**c, "title": "Older"}, 2)) is False
    index.commit()
    assert found(index, "newer") == [c["id"]]


def test_a_redelivered_version_leaves_exactly_one_document(index: TantivyIndex) -> None:
    c = add_case(index, version=3)

    for _ in range(3):
        assert index.upsert(case_doc(c, 3)) is True
    index.commit()

    assert index.count() == 1
    assert index.search("boiler")["total_hits"] == 1


def test_rollback_discards_uncommitted_writes(index: TantivyIndex) -> None:
    add_case(index)
    index.upsert(case_doc(case(title="Uncommitted giraffe"), 1))

    index.rollback()
    index.commit()

    assert found(index, "giraffe") == []
    assert index.count() == 1


def test_count_by_kind(index: TantivyIndex) -> None:
    first = add_case(index)
    add_case(index)
    attach(index, first["id"], "one")
    attach(index, first["id"], "two")
    attach(index, first["id"], "three")

    assert index.count() == 5
    assert index.count("case") == 2
    assert index.count("document") == 3
    assert index.count("nonsense") == 0


def test_indexed_version_of_an_unknown_case_is_none(index: TantivyIndex) -> None:
    assert index.indexed_version(str(uuid.uuid4())) is None


def test_the_index_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "index"
    first = TantivyIndex(path, heap_bytes=15_000_000)
    c = add_case(first, version=7)
    attach(first, c["id"], "persistent xylophone")
    del first
    gc.collect()

    again = TantivyIndex(path, heap_bytes=15_000_000)

    assert again.count() == 2
    assert found(again, "boiler") == [c["id"]]
    assert found(again, "xylophone") == [c["id"]]
    assert again.indexed_version(c["id"]) == 7
    assert again.upsert(case_doc(c, 6)) is False


def test_uncommitted_writes_are_lost_when_the_index_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "index"
    first = TantivyIndex(path, heap_bytes=15_000_000)
    first.upsert(case_doc(case(), 1))
    del first
    gc.collect()

    assert TantivyIndex(path, heap_bytes=15_000_000).count() == 0


@pytest.mark.parametrize(
    "query", ['"unbalanced boiler', "boiler)", "title:(", "AND", ":", "*", "", "   ", 'a"b"c"', "\x00"]
)
def test_a_malformed_query_returns_results_not_an_error(index: TantivyIndex, query: str) -> None:
    add_case(index)

    result = index.search(query)

    assert isinstance(result["items"], list)
    assert isinstance(result["total_hits"], int)


def test_limit_bounds_the_number_of_cases(index: TantivyIndex) -> None:
    for n in range(5):
        index.upsert(case_doc(case(reference=f"CMP-2024-{n:06d}"), 1))
    index.commit()

    assert len(index.search("boiler", limit=2)["items"]) == 2
    assert len(index.search("boiler", limit=0)["items"]) == 1
    assert len(index.search("boiler", limit=-3)["items"]) == 1
    assert index.search("boiler", limit=2)["total_hits"] == 5


def test_limit_is_capped_at_100(index: TantivyIndex) -> None:
    for n in range(105):
        index.upsert(case_doc(case(reference=f"CMP-2024-{n:06d}"), 1))
    index.commit()

    assert len(index.search("boiler", limit=1000)["items"]) == 100


def test_a_case_with_many_matching_documents_is_listed_once(index: TantivyIndex) -> None:
    c = add_case(index)
    for n in range(4):
        attach(index, c["id"], f"boiler report number {n}")

    (item,) = index.search("boiler")["items"]

    assert item["case_id"] == c["id"]
    assert sorted(item["matched_in"]) == ["case", "document"]


def test_many_matching_documents_of_one_case_do_not_hide_another_matching_case(index: TantivyIndex) -> None:
    crowded = add_case(index, title="Bathroom", description="", parties=[], reference="CMP-2024-000001")
    other = add_case(index, title="Repairs", description="", parties=[], reference="CMP-2024-000002")
    for _ in range(12):  # short texts: each outscores the other case's single long one
        attach(index, crowded["id"], "damp")
    attach(index, other["id"], "several problems with windows doors roof gutters and some damp in the corner")

    result = index.search("damp", limit=2)

    assert {i["case_id"] for i in result["items"]} == {crowded["id"], other["id"]}
