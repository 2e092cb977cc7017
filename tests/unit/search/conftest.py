"""Engines for the contract suite: the embedded engine always; Elasticsearch when ELASTICSEARCH_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.search.index import SearchEngine
from services.search.indexing import Indexer

ES_SKIP = "ELASTICSEARCH_URL is not set: the Elasticsearch contract run is SKIPPED (embedded engine only)"


def _embedded(tmp_path: Path) -> Callable[[], SearchEngine]:
    from services.search.tantivy_index import TantivyEngine

    root = tmp_path / "search"
    return lambda: TantivyEngine(root, heap_bytes=15_000_000)


def _elasticsearch() -> tuple[Callable[[], SearchEngine], Callable[[], None]]:
    from services.search.es_index import ElasticsearchEngine

    config = {
        "ELASTICSEARCH_URL": os.environ["ELASTICSEARCH_URL"],
        "ELASTIC_PASSWORD": os.environ.get("ELASTIC_PASSWORD"),
        "SEARCH_INDEX": f"casework-test-{uuid.uuid4().hex[:10]}",
    }

    def make() -> SearchEngine:
        return ElasticsearchEngine.from_config(config)

    def cleanup() -> None:
        engine = ElasticsearchEngine.from_config(config)
        engine.client.indices.delete(index=f"{config['SEARCH_INDEX']}-*", ignore_unavailable=True)

    return make, cleanup


@pytest.fixture(
    params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)],
)
def make_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], SearchEngine]]:
    """A factory of engines on one store: a second call reopens what the first wrote."""
    if request.param == "embedded":
        yield _embedded(tmp_path)
        return
    if not os.environ.get("ELASTICSEARCH_URL"):
        pytest.skip(ES_SKIP)
    make, cleanup = _elasticsearch()
    try:
        yield make
    finally:
        cleanup()


@pytest.fixture
def indexer(make_engine: Callable[[], SearchEngine]) -> Indexer:
    return Indexer(make_engine())


class Feed:
    """Applies events to an indexer and commits, like the service's group commit does."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def __call__(self, *envelopes: dict[str, Any]) -> list[bool]:
        applied = [self.indexer.apply(e) for e in envelopes]
        self.indexer.commit()
        return applied


@pytest.fixture
def feed(indexer: Indexer) -> Feed:
    return Feed(indexer)


def pytest_report_header(config: pytest.Config) -> str:  # noqa: ARG001 - the hook's signature
    if os.environ.get("ELASTICSEARCH_URL"):
        return "search contract suite: embedded + Elasticsearch (ELASTICSEARCH_URL is set)"
    return f"search contract suite: {ES_SKIP}"
