"""The scale-out engine: Elasticsearch through the ``elasticsearch`` client (major version 9).

Settings, analyzers and mappings are in code (``SETTINGS``, ``MAPPINGS``); the refresh interval
is explicit (``SEARCH_REFRESH_INTERVAL``, default 1s). Reads go through the alias
``SEARCH_INDEX`` (default ``casework-cases``); a rebuild writes a new concrete index and swaps
the alias in one ``update_aliases`` call. A commit is one bulk request; with
``refresh=wait_for`` an event is acknowledged once it is searchable. Read-modify-writes are
guarded by ``if_seq_no``/``if_primary_term``, so replicas of the service never overwrite each
other (a conflict fails the handler, which retries).

The query builders (``search_body``, ``visibility_filter``, ...) are pure and unit-tested.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from services.search import mappings
from services.search.es_queries import (
    MAPPINGS,
    SETTINGS,
    WORD,
    es_document,
    parse_response,
    search_body,
    visibility_filter,
)
from services.search.queries import SORTS, QueryError, SearchRequest, Visibility, decode_cursor


def client_options(config: dict[str, Any]) -> dict[str, Any]:
    """Client settings: ``ELASTICSEARCH_URL``, and ``ELASTIC_PASSWORD`` (config or environment) unless
    the URL has credentials."""
    url = config.get("ELASTICSEARCH_URL")
    if not url:
        raise RuntimeError("SEARCH_ENGINE=elasticsearch needs ELASTICSEARCH_URL")
    options: dict[str, Any] = {
        "hosts": [url],
        "request_timeout": 30,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    password = config.get("ELASTIC_PASSWORD", os.environ.get("ELASTIC_PASSWORD"))
    if password and not urlsplit(url).username:
        options["basic_auth"] = ("elastic", password)
    return options


class EngineConflict(RuntimeError):
    """Another writer changed the case between our read and our write; the event is retried."""


# --- the engine ----------------------------------------------------------------------------------


class ElasticsearchEngine:
    name = "elasticsearch"

    def __init__(
        self,
        client: Any,
        *,
        alias: str = "casework-cases",
        index_name: str | None = None,
        refresh_interval: str = "1s",
        commit_refresh: str = "wait_for",
        country_code: str = "44",
    ) -> None:
        self.client = client
        self.alias = alias
        self.refresh_interval = refresh_interval
        self.commit_refresh = commit_refresh
        self.country_code = country_code
        self.pending: dict[str, dict[str, Any] | None] = {}
        self.seq: dict[str, tuple[int, int]] = {}
        self.staged: list[dict[str, Any]] = []
        self.index_name = index_name or self._ensure_alias()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ElasticsearchEngine:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(**client_options(config))
        return cls(
            client,
            alias=str(config.get("SEARCH_INDEX") or "casework-cases"),
            refresh_interval=str(config.get("SEARCH_REFRESH_INTERVAL") or "1s"),
            country_code=str(config.get("SEARCH_COUNTRY_CODE") or "44"),
        )

    def _create_index(self) -> str:
        name = f"{self.alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 1_000_000:06d}"
        settings = {**SETTINGS, "refresh_interval": self.refresh_interval}
        self.client.indices.create(index=name, settings=settings, mappings=MAPPINGS)
        return name

    def _ensure_alias(self) -> str:
        if self.client.indices.exists_alias(name=self.alias):
            return next(iter(self.client.indices.get_alias(name=self.alias).body))
        name = self._create_index()
        self.client.indices.update_aliases(actions=[{"add": {"index": name, "alias": self.alias}}])
        return name

    # -- writes --------------------------------------------------------------------------------
    def get_source(self, case_id: str) -> dict[str, Any] | None:
        if case_id in self.pending:
            return self.pending[case_id]
        from elasticsearch import NotFoundError

        try:
            found = self.client.get(index=self.index_name, id=case_id, realtime=True)
        except NotFoundError:
            return None
        self.seq[case_id] = (int(found["_seq_no"]), int(found["_primary_term"]))
        return found["_source"]["source"]

    def put_source(self, source: dict[str, Any]) -> None:
        case_id = source["case_id"]
        op: dict[str, Any] = {
            "_op_type": "index",
            "_index": self.index_name,
            "_id": case_id,
            "_source": es_document(source, self.country_code),
        }
        if case_id in self.seq and case_id not in self.pending:
            op["if_seq_no"], op["if_primary_term"] = self.seq[case_id]
        self.staged.append(op)
        self.pending[case_id] = source

    def delete(self, case_id: str) -> None:
        self.staged.append({"_op_type": "delete", "_index": self.index_name, "_id": case_id})
        self.pending[case_id] = None

    def commit(self) -> None:
        from elasticsearch import helpers

        staged, self.staged = self.staged, []
        self.pending.clear()
        self.seq.clear()
        if not staged:
            return
        _ok, errors = helpers.bulk(
            self.client, staged, refresh=self.commit_refresh, raise_on_error=False, raise_on_exception=True
        )
        real = [e for e in errors if (e.get("delete") or {}).get("status") != 404]
        if any((next(iter(e.values())) or {}).get("status") == 409 for e in real):
            raise EngineConflict("a case changed between read and write")
        if real:
            raise RuntimeError(f"bulk indexing failed: {real[:3]}")

    def rollback(self) -> None:
        self.staged, self.pending, self.seq = [], {}, {}

    # -- reads ---------------------------------------------------------------------------------
    def search(self, request: SearchRequest, visibility: Visibility) -> dict[str, Any]:
        position = decode_cursor(request)
        if position is not None and SORTS[request.sort] is None and not isinstance(position, list):
            raise QueryError("cursor", "is not a cursor of this search")
        response = self.client.search(index=self.alias, **search_body(request, visibility))
        return parse_response(
            request, dict(response), request.parsed.has_text or bool(request.parsed.excluded)
        )

    def suggest(self, prefix: str, visibility: Visibility, limit: int = 8) -> dict[str, Any]:
        words = [w.lower() for w in WORD.findall(prefix)]
        if not words:
            return {"terms": [], "cases": []}
        visible = [{"term": {"ready": 1}}, *visibility_filter(visibility)]
        body = {
            "size": limit,
            "query": {
                "bool": {
                    "must": [
                        {
                            "multi_match": {
                                "query": " ".join(words),
                                "type": "phrase_prefix",
                                "fields": ["title^2", "names^1.5", "reference_text^3"],
                            }
                        }
                    ],
                    "filter": visible,
                }
            },
            "source": ["source"],
            "aggs": {
                "terms": {
                    "filter": {"bool": {"filter": visible}},
                    "aggs": {
                        "words": {
                            "terms": {"field": "words", "include": re.escape(words[-1]) + ".*", "size": limit}
                        }
                    },
                }
            },
        }
        response = dict(self.client.search(index=self.alias, **body))
        buckets = response.get("aggregations", {}).get("terms", {}).get("words", {}).get("buckets", [])
        cases = []
        for hit in response["hits"]["hits"]:
            fields = mappings.hit_fields(hit["_source"]["source"])
            cases.append({k: fields[k] for k in ("case_id", "reference", "title", "status")})
        terms = [{"text": b["key"], "count": int(b["doc_count"])} for b in buckets] if len(words) == 1 else []
        return {"terms": terms, "cases": cases}

    def lookup(self, kind: str, value: str, visibility: Visibility) -> list[dict[str, Any]]:
        field_name = {"reference": "reference", "email": "emails", "phone": "phones"}[kind]
        if kind == "email":
            value = mappings.normalise_email(value)
        elif kind == "phone":
            value = mappings.normalise_phone(value, self.country_code)
        else:
            value = value.strip().upper()
        query = {
            "bool": {
                "filter": [
                    {"term": {field_name: value}},
                    {"term": {"ready": 1}},
                    *visibility_filter(visibility),
                ]
            }
        }
        response = self.client.search(index=self.alias, query=query, size=50, sort=[{"sort_date": "asc"}])
        return [mappings.hit_fields(h["_source"]["source"]) for h in response["hits"]["hits"]]

    def entry(self, case_id: str) -> dict[str, Any]:
        query = {"bool": {"filter": [{"term": {"case_id": case_id}}, {"term": {"ready": 1}}]}}
        response = self.client.search(index=self.alias, query=query, size=10, source=["source.case_version"])
        hits = response["hits"]["hits"]
        versions = [int(h["_source"]["source"]["case_version"]) for h in hits]
        return {"case_id": case_id, "copies": len(hits), "versions": versions}

    def duplicates(self, limit: int = 500) -> list[str]:
        """Cases with more than one document under the alias (documents are keyed by case id, so
        only an alias over two indices could show one twice)."""
        aggs = {"copies": {"terms": {"field": "case_id", "size": limit, "min_doc_count": 2}}}
        response = self.client.search(index=self.alias, size=0, aggs=aggs)
        return [str(b["key"]) for b in response["aggregations"]["copies"]["buckets"] if b["doc_count"] > 1]

    def indexed_version(self, case_id: str) -> int | None:
        versions = self.entry(case_id)["versions"]
        return max(versions) if versions else None

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.client.count(index=self.alias)["count"])
        if kind != "case":
            return 0
        return int(self.client.count(index=self.alias, query={"term": {"ready": 1}})["count"])

    def iter_sources(self, batch: int = 500) -> Iterator[list[dict[str, Any]]]:
        from elasticsearch import helpers

        chunk: list[dict[str, Any]] = []
        for hit in helpers.scan(self.client, index=self.index_name, size=batch, source=["source"]):
            chunk.append(hit["_source"]["source"])
            if len(chunk) >= batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # -- rebuild -------------------------------------------------------------------------------
    def create_shadow(self) -> ElasticsearchEngine:
        shadow = ElasticsearchEngine(
            self.client,
            alias=self.alias,
            index_name=self._create_index(),
            refresh_interval=self.refresh_interval,
            commit_refresh="false",
            country_code=self.country_code,
        )
        return shadow

    def promote(self, shadow: ElasticsearchEngine) -> ElasticsearchEngine:  # type: ignore[override]
        shadow.commit()
        self.client.indices.refresh(index=shadow.index_name)
        self.client.indices.update_aliases(
            actions=[
                {"remove": {"index": self.index_name, "alias": self.alias}},
                {"add": {"index": shadow.index_name, "alias": self.alias}},
            ]
        )
        self.client.indices.delete(index=self.index_name, ignore_unavailable=True)
        shadow.commit_refresh = self.commit_refresh
        return shadow

    def discard(self) -> None:
        self.client.indices.delete(index=self.index_name, ignore_unavailable=True)

    def close(self) -> None:
        pass
