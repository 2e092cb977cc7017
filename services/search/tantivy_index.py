"""The embedded engine: tantivy on disk, one document per case.

Layout: ``<root>/current`` is a symlink to ``<root>/index-<id>``; a rebuild writes a new
``index-<id>`` beside the live one and swaps the link with one ``rename`` (atomic on POSIX).
The case's source is stored as JSON bytes, so a read-modify-write needs no other store; writes
not yet committed are kept in ``pending`` so a second event for the same case sees the first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tantivy

from services.search import mappings
from services.search.queries import (
    FACET_FIELDS,
    SORTS,
    QueryError,
    SearchRequest,
    Visibility,
    decode_cursor,
    encode_cursor,
    facet_value,
)
from services.search.tantivy_queries import (
    MAX_HIGHLIGHTS,
    SUGGEST_FIELDS,
    QueryBuilder,
    analyze,
    build_schema,
    source_of,
    to_document,
)

log = logging.getLogger(__name__)
MAX_COPIES = 10  # copies of one case read back when repairing


class TantivyEngine:
    name = "embedded"

    def __init__(
        self,
        root: str | Path,
        *,
        country_code: str = "44",
        heap_bytes: int = 64 * 1024 * 1024,
        directory: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.country_code = country_code
        self.heap_bytes = heap_bytes
        self.path = directory or self._current_directory()
        if directory is None:
            self._remove_abandoned()
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.qb = QueryBuilder(self.schema)
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self.writer = self.index.writer(heap_size=heap_bytes, num_threads=1)
        self.pending: dict[str, dict[str, Any] | None] = {}

    def _current_directory(self) -> Path:
        link = self.root / "current"
        if link.is_symlink() or link.exists():
            return (self.root / os.readlink(link)) if link.is_symlink() else link
        target = self.root / f"index-{uuid.uuid4().hex[:12]}"
        target.mkdir()
        _switch_link(self.root, target)
        return target

    def _remove_abandoned(self) -> None:
        """Shadows of rebuilds that never finished (the process died) and stray temporary links."""
        for entry in self.root.iterdir():
            if entry.name.startswith(".current-") or (entry.name.startswith("index-") and entry != self.path):
                log.warning("removing an abandoned search index directory", extra={"path": str(entry)})
                if entry.is_symlink() or entry.is_file():
                    entry.unlink()
                else:
                    shutil.rmtree(entry, ignore_errors=True)

    # -- writes --------------------------------------------------------------------------------
    def get_source(self, case_id: str) -> dict[str, Any] | None:
        """The case's source; if the index holds more than one copy, the newest (the next
        ``put_source`` deletes them all and leaves one)."""
        if case_id in self.pending:
            return self.pending[case_id]
        searcher = self.index.searcher()
        hits = searcher.search(self.qb.term("case_id", case_id), MAX_COPIES, count=False).hits
        sources = [source_of(searcher.doc(addr)) for _score, addr in hits]
        if len(sources) > 1:
            log.warning(
                "a case has more than one search document", extra={"case_id": case_id, "copies": len(sources)}
            )
        return mappings.newest(sources)

    def put_source(self, source: dict[str, Any]) -> None:
        self.writer.delete_documents_by_term("case_id", source["case_id"])
        self.writer.add_document(to_document(source, self.country_code))
        self.pending[source["case_id"]] = source

    def delete(self, case_id: str) -> None:
        self.writer.delete_documents_by_term("case_id", case_id)
        self.pending[case_id] = None

    def commit(self) -> None:
        self.writer.commit()
        self.pending.clear()
        self.index.reload()

    def rollback(self) -> None:
        self.writer.rollback()
        self.pending.clear()

    # -- query building ------------------------------------------------------------------------
    # -- reads ---------------------------------------------------------------------------------
    def search(self, request: SearchRequest, visibility: Visibility) -> dict[str, Any]:
        searcher = self.index.searcher()
        text = self.qb.text_query(request.parsed)
        filters = self.qb.filters(request, visibility)
        base = self.qb.combine(text, filters)
        total: int | None = None
        position = decode_cursor(request)
        if position is not None and not isinstance(position, int):
            raise QueryError("cursor", "is not a cursor of this search")
        keyed = SORTS[request.sort]
        limit = request.limit
        if keyed is None:
            offset = position or 0
            result = searcher.search(base, limit + 1, count=True, offset=offset)
            total = int(result.count or 0)
            hits = [(float(score), addr) for score, addr in result.hits]
            more = len(hits) > limit
            hits = hits[:limit]
            next_cursor = encode_cursor(request.sort, offset + limit) if more else None
        else:
            sort_field, direction = keyed
            query = base
            if position is not None:
                after = tantivy.Query.range_query(
                    self.schema,
                    sort_field,
                    tantivy.FieldType.Unsigned,
                    lower_bound=position if direction == "asc" else None,
                    upper_bound=position if direction == "desc" else None,
                    include_lower=direction == "desc",
                    include_upper=direction == "asc",
                )
                query = self.qb.combine(text, [*filters, after])
            order = tantivy.Order.Asc if direction == "asc" else tantivy.Order.Desc
            result = searcher.search(
                query, limit + 1, count=position is None, order_by_field=sort_field, order=order
            )
            if position is None:
                total = int(result.count or 0)
            addrs = [addr for _key, addr in result.hits]
            keys = searcher.fast_field_values(sort_field, addrs) if addrs else []
            hits = [(0.0, addr) for addr in addrs]
            more = len(hits) > limit
            hits = hits[:limit]
            next_cursor = encode_cursor(request.sort, int(keys[limit - 1])) if more else None
        if total is None:  # a later page of a keyed sort: the page query is narrowed by the cursor
            total = int(searcher.search(base, 1, count=True).count or 0)
        generators: dict[str, tantivy.SnippetGenerator] = {}  # one per field for the whole page
        items = [self._hit(searcher, addr, score, text, generators) for score, addr in hits]
        out: dict[str, Any] = {"items": items, "total_hits": total, "next_cursor": next_cursor}
        if request.facets:
            out["facets"] = self._facets(searcher, base)
        return out

    def _facets(self, searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, list[dict[str, Any]]]:
        spec = {name: {"terms": {"field": name, "size": 50}} for name in FACET_FIELDS}
        result = searcher.aggregate(query, spec)
        return {
            name: [
                {"value": facet_value(b["key"]), "count": int(b["doc_count"])}
                for b in result.get(name, {}).get("buckets", [])
            ]
            for name in FACET_FIELDS
        }

    def _hit(
        self,
        searcher: tantivy.Searcher,
        addr: Any,
        score: float,
        text: tantivy.Query | None,
        generators: dict[str, tantivy.SnippetGenerator],
    ) -> dict[str, Any]:
        source = source_of(searcher.doc(addr))
        highlights = self._highlights(searcher, source, text, generators) if text is not None else []
        matched = []
        for h in highlights:
            where = {"note": "note", "document": "document", "message": "message", "filename": "document"}
            kind = where.get(h["where"], "case")
            if kind not in matched:
                matched.append(kind)
        if text is not None and not matched:
            matched = ["case"]
        return {
            **mappings.hit_fields(source),
            "score": round(score, 4),
            "matched_in": matched,
            "highlights": highlights,
        }

    def _highlights(
        self,
        searcher: tantivy.Searcher,
        source: dict[str, Any],
        text: tantivy.Query,
        generators: dict[str, tantivy.SnippetGenerator],
    ) -> list[dict[str, Any]]:
        out = []
        for where, item_id, field_name, body in mappings.text_pieces(source):
            gen = generators.get(field_name)
            if gen is None:
                gen = tantivy.SnippetGenerator.create(searcher, text, self.schema, field_name)
                gen.set_max_num_chars(160)
                generators[field_name] = gen
            snippet = gen.snippet_from_doc(tantivy.Document(**{field_name: [body]}))
            html = snippet.to_html()
            if html and snippet.highlighted():
                out.append({"where": where, "id": item_id, "snippet": html})
                if len(out) >= MAX_HIGHLIGHTS:
                    break
        return out

    def suggest(self, prefix: str, visibility: Visibility, limit: int = 8) -> dict[str, Any]:
        tokens = analyze(prefix)
        if not tokens:
            return {"terms": [], "cases": []}
        searcher = self.index.searcher()
        filters = [self.qb.term("ready", 1), *self.qb.visibility(visibility)]
        visible = self.qb.combine(None, filters)
        terms: dict[str, int] = {}
        if len(tokens) == 1:
            for name in SUGGEST_FIELDS:
                for term, count in searcher.terms_with_prefix(
                    name, tokens[0], filter_query=visible, limit=limit
                ):
                    terms[term] = max(terms.get(term, 0), int(count))
        ranked = sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        clauses = [
            tantivy.Query.boost_query(tantivy.Query.phrase_prefix_query(self.schema, name, tokens), boost)
            for name, boost in (("title", 2.0), ("names", 1.5), ("reference_text", 3.0))
        ]
        text = tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])
        result = searcher.search(self.qb.combine(text, filters), limit, count=False)
        cases = []
        for _score, addr in result.hits:
            hit = mappings.hit_fields(source_of(searcher.doc(addr)))
            cases.append({k: hit[k] for k in ("case_id", "reference", "title", "status")})
        return {"terms": [{"text": t, "count": c} for t, c in ranked], "cases": cases}

    def lookup(self, kind: str, value: str, visibility: Visibility) -> list[dict[str, Any]]:
        field_name = {"reference": "reference", "email": "emails", "phone": "phones"}[kind]
        if kind == "email":
            value = mappings.normalise_email(value)
        elif kind == "phone":
            value = mappings.normalise_phone(value, self.country_code)
        else:
            value = value.strip().upper()
        searcher = self.index.searcher()
        filters = [self.qb.term("ready", 1), *self.qb.visibility(visibility), self.qb.term(field_name, value)]
        result = searcher.search(self.qb.combine(None, filters), 50, count=False, order_by_field="sort_date")
        return [mappings.hit_fields(source_of(searcher.doc(addr))) for _key, addr in result.hits]

    def entry(self, case_id: str) -> dict[str, Any]:
        """How many documents a case has in the index, and at which version (consistency checks)."""
        searcher = self.index.searcher()
        query = self.qb.combine(self.qb.term("case_id", case_id), [self.qb.term("ready", 1)])
        result = searcher.search(query, 10, count=True)
        versions = [int(source_of(searcher.doc(addr))["case_version"]) for _score, addr in result.hits]
        return {"case_id": case_id, "copies": int(result.count or 0), "versions": versions}

    def duplicates(self, limit: int = 500) -> list[str]:
        """Cases with more than one document. A case has one document because every write deletes
        by ``case_id`` before it adds; tantivy has no unique key to enforce that, so a sweep checks
        (one terms aggregation over the ``case_id`` fast field, most copies first)."""
        searcher = self.index.searcher()
        spec = {"copies": {"terms": {"field": "case_id", "size": limit, "min_doc_count": 2}}}
        buckets = searcher.aggregate(tantivy.Query.all_query(), spec).get("copies", {}).get("buckets", [])
        return [str(b["key"]) for b in buckets if int(b["doc_count"]) > 1]

    def indexed_version(self, case_id: str) -> int | None:
        versions = self.entry(case_id)["versions"]
        return max(versions) if versions else None

    def count(self, kind: str | None = None) -> int:
        searcher = self.index.searcher()
        if kind is None:
            return int(searcher.num_docs)
        if kind != "case":
            return 0
        return int(searcher.search(self.qb.term("ready", 1), 1, count=True).count or 0)

    def iter_sources(self, batch: int = 500) -> Iterator[list[dict[str, Any]]]:
        """Every committed source, in batches, from one searcher (a consistent snapshot)."""
        searcher = self.index.searcher()
        total = int(searcher.num_docs)
        if total == 0:
            return
        addrs = [addr for _score, addr in searcher.search(tantivy.Query.all_query(), total, count=False).hits]
        for start in range(0, len(addrs), batch):
            yield [source_of(searcher.doc(a)) for a in addrs[start : start + batch]]

    # -- rebuild -------------------------------------------------------------------------------
    def create_shadow(self) -> TantivyEngine:
        target = self.root / f"index-{uuid.uuid4().hex[:12]}"
        return TantivyEngine(
            self.root, country_code=self.country_code, heap_bytes=self.heap_bytes, directory=target
        )

    def promote(self, shadow: TantivyEngine) -> TantivyEngine:  # type: ignore[override]
        shadow.commit()
        _switch_link(self.root, shadow.path)
        old = self.path
        self.close()
        shutil.rmtree(old, ignore_errors=True)
        return shadow

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a consumed writer has nothing to wait for
            self.writer.wait_merging_threads()


def _switch_link(root: Path, target: Path) -> None:
    tmp = root / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(target.name, tmp)
    os.replace(tmp, root / "current")
