"""The search index behind one interface; the embedded default is tantivy on disk.

Writes are synchronous and uncommitted until ``commit``; the service batches
commits (see ``dependencies.GroupCommit``). ``upsert`` is ordered by
``case_version``: a document older than what is indexed is ignored, so
redelivered and out-of-order events never overwrite newer data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import tantivy

from services.search.mappings import CASE_PREFIX, REFERENCE_PATTERN

TEXT_FIELDS = ["title", "description", "parties", "body", "filename", "reference_text"]
BOOSTS = {
    "title": 3.0,
    "reference_text": 3.0,
    "parties": 2.0,
    "description": 1.0,
    "body": 1.0,
    "filename": 1.5,
}
MAX_SCAN = 5000
RAW_FIELDS = ["doc_id", "case_id", "kind", "reference", "type", "status", "stage", "priority"]


class SearchIndex(Protocol):
    def upsert(self, doc: dict[str, Any]) -> bool: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def search(self, q: str, limit: int = 20) -> dict[str, Any]: ...
    def indexed_version(self, case_id: str) -> int | None: ...
    def count(self, kind: str | None = None) -> int: ...
    def entry(self, case_id: str) -> dict[str, Any]: ...


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for name in RAW_FIELDS:
        sb.add_text_field(name, stored=True, tokenizer_name="raw", fast=name not in ("doc_id",))
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=name != "reference_text")
    sb.add_unsigned_field("priority_rank", stored=True, indexed=True, fast=True)
    sb.add_unsigned_field("case_version", stored=True, indexed=True, fast=True)
    sb.add_date_field("created_at", stored=True, indexed=True, fast=True)
    return sb.build()


UNSIGNED_FIELDS = ("priority_rank", "case_version")
DATE_FIELDS = ("created_at",)


def to_tantivy(fields: dict[str, Any]) -> tantivy.Document:
    doc = tantivy.Document()
    for name, value in fields.items():
        if value is None:
            continue
        if name in UNSIGNED_FIELDS:
            doc.add_unsigned(name, int(value))
        elif name in DATE_FIELDS:
            doc.add_date(name, value)
        else:
            doc.add_text(name, str(value))
    return doc


def _first(doc: tantivy.Document, field: str) -> Any:
    values = doc.get_all(field)
    return values[0] if values else None


class TantivyIndex:
    def __init__(self, path: str | Path, heap_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self.writer = self.index.writer(heap_size=heap_bytes, num_threads=1)
        self.pending: dict[str, int] = {}

    # -- writes ------------------------------------------------------------------
    def _stored_version(self, doc_id: str) -> int | None:
        if doc_id in self.pending:
            return self.pending[doc_id]
        searcher = self.index.searcher()
        query = tantivy.Query.term_query(self.schema, "doc_id", doc_id)
        hits = searcher.search(query, 1).hits
        if not hits:
            return None
        return int(_first(searcher.doc(hits[0][1]), "case_version") or 0)

    def upsert(self, doc: dict[str, Any]) -> bool:
        """Replace the document with the same ``doc_id`` unless ours is older."""
        doc_id = doc["doc_id"]
        version = int(doc.get("case_version") or 0)
        stored = self._stored_version(doc_id)
        if stored is not None and stored > version:
            return False
        self.writer.delete_documents_by_term("doc_id", doc_id)
        self.writer.add_document(to_tantivy(doc))
        self.pending[doc_id] = version
        return True

    def commit(self) -> None:
        self.writer.commit()
        self.pending.clear()
        self.index.reload()

    def rollback(self) -> None:
        self.writer.rollback()
        self.pending.clear()

    # -- reads -------------------------------------------------------------------
    def indexed_version(self, case_id: str) -> int | None:
        searcher = self.index.searcher()
        query = tantivy.Query.term_query(self.schema, "doc_id", CASE_PREFIX + case_id)
        result = searcher.search(query, 2)
        if not result.hits:
            return None
        return int(_first(searcher.doc(result.hits[0][1]), "case_version"))

    def entry(self, case_id: str) -> dict[str, Any]:
        """How many index documents a case has, and at which version (for consistency checks)."""
        searcher = self.index.searcher()
        query = tantivy.Query.term_query(self.schema, "doc_id", CASE_PREFIX + case_id)
        result = searcher.search(query, 10, count=True)
        versions = [int(_first(searcher.doc(addr), "case_version")) for _score, addr in result.hits]
        return {"case_id": case_id, "copies": int(result.count or 0), "versions": versions}

    def count(self, kind: str | None = None) -> int:
        searcher = self.index.searcher()
        query = tantivy.Query.term_query(self.schema, "kind", kind) if kind else tantivy.Query.all_query()
        return int(searcher.search(query, 1, count=True).count)

    def _case_docs(self, searcher: tantivy.Searcher, case_ids: list[str]) -> dict[str, Any]:
        if not case_ids:
            return {}
        query = tantivy.Query.term_set_query(self.schema, "doc_id", [CASE_PREFIX + c for c in case_ids])
        out = {}
        for _score, addr in searcher.search(query, len(case_ids)).hits:
            doc = searcher.doc(addr)
            out[_first(doc, "case_id")] = doc
        return out

    def parse(self, q: str) -> tantivy.Query:
        q = q.strip()
        if REFERENCE_PATTERN.match(q):
            return tantivy.Query.term_query(self.schema, "reference", q)
        query, _errors = self.index.parse_query_lenient(q, TEXT_FIELDS, field_boosts=BOOSTS)
        return query

    def search(self, q: str, limit: int = 20) -> dict[str, Any]:
        limit = max(1, min(limit, 100))
        searcher = self.index.searcher()
        query = self.parse(q)
        order: list[str] = []
        matched: dict[str, dict[str, Any]] = {}
        page, offset, total = limit * 5, 0, 0
        # hits are index documents (a case and each of its texts): page on until there are
        # ``limit`` distinct cases, so one case with many matching texts hides no other
        while len(order) < limit and offset < MAX_SCAN:
            result = searcher.search(query, page, count=offset == 0, offset=offset)
            if offset == 0:
                total = int(result.count or 0)
            for score, addr in result.hits:
                doc = searcher.doc(addr)
                case_id = _first(doc, "case_id")
                entry = matched.setdefault(case_id, {"score": score, "matched_in": []})
                if case_id not in order:
                    order.append(case_id)
                where = "document" if _first(doc, "kind") == "document" else "case"
                if where not in entry["matched_in"]:
                    entry["matched_in"].append(where)
            offset += len(result.hits)
            if len(result.hits) < page:
                break
        order = order[:limit]
        cases = self._case_docs(searcher, order)
        items = []
        for case_id in order:
            doc = cases.get(case_id)
            if doc is None:
                continue  # text of a document whose case is not indexed yet
            items.append(
                {
                    "case_id": case_id,
                    "reference": _first(doc, "reference"),
                    "title": _first(doc, "title"),
                    "status": _first(doc, "status"),
                    "priority": _first(doc, "priority"),
                    "type": _first(doc, "type"),
                    "case_version": int(_first(doc, "case_version")),
                    "score": round(float(matched[case_id]["score"]), 4),
                    "matched_in": matched[case_id]["matched_in"],
                }
            )
        return {"items": items, "total_hits": total}
