"""The search engine behind one interface, chosen by configuration (``SEARCH_ENGINE``).

- ``embedded`` (default): tantivy on disk under ``SEARCH_DATA_DIR`` (``tantivy_index.py``);
- ``elasticsearch``: a cluster at ``ELASTICSEARCH_URL`` (``es_index.py``).

An engine stores one document per case, built from the case's *source* (``mappings.py``).
Writes are staged until ``commit``; ``get_source`` sees staged writes. Both engines pass the
contract suite in ``tests/unit/search/test_engine_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from services.search.queries import SearchRequest, Visibility


class SearchEngine(Protocol):
    name: str

    # writes (staged until commit)
    def get_source(self, case_id: str) -> dict[str, Any] | None: ...
    def put_source(self, source: dict[str, Any]) -> None: ...
    def delete(self, case_id: str) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...

    # reads (committed data)
    def search(self, request: SearchRequest, visibility: Visibility) -> dict[str, Any]: ...
    def suggest(self, prefix: str, visibility: Visibility, limit: int = 8) -> dict[str, Any]: ...
    def lookup(self, kind: str, value: str, visibility: Visibility) -> list[dict[str, Any]]: ...
    def entry(self, case_id: str) -> dict[str, Any]: ...
    def indexed_version(self, case_id: str) -> int | None: ...
    def count(self, kind: str | None = None) -> int: ...
    def duplicates(self, limit: int = 500) -> list[str]: ...  # cases with more than one document
    def iter_sources(self, batch: int = 500) -> Iterator[list[dict[str, Any]]]: ...

    # rebuild: a new index beside the live one, then an atomic swap
    def create_shadow(self) -> SearchEngine: ...
    def promote(self, shadow: SearchEngine) -> SearchEngine: ...
    def discard(self) -> None: ...  # drop a shadow that will not be promoted
    def close(self) -> None: ...


def open_engine(config: dict[str, Any]) -> SearchEngine:
    """The engine named by ``SEARCH_ENGINE`` (``embedded`` or ``elasticsearch``)."""
    engine = str(config.get("SEARCH_ENGINE") or "embedded")
    country = str(config.get("SEARCH_COUNTRY_CODE") or "44")
    if engine == "embedded":
        from services.search.tantivy_index import TantivyEngine

        return TantivyEngine(config["SEARCH_DATA_DIR"], country_code=country)
    if engine == "elasticsearch":
        from services.search.es_index import ElasticsearchEngine

        return ElasticsearchEngine.from_config(config)
    raise RuntimeError(f"unknown SEARCH_ENGINE {engine!r} (embedded or elasticsearch)")
