"""The embedded engine's schema, documents and query building (tantivy queries from a SearchRequest)."""

from __future__ import annotations

import json
from typing import Any

import tantivy

from services.search import mappings
from services.search.queries import Parsed, SearchRequest, Visibility

KEYWORDS = ("case_id", "reference", "type", "stage", "status", "priority", "channel", "team")
KEYWORDS += ("queue", "assignee", "sla", "emails", "phones")
TEXTS = {
    "title": 3.0,
    "reference_text": 3.0,
    "names": 2.0,
    "contacts": 2.0,
    "filenames": 1.5,
    "description": 1.0,
    "custom": 1.0,
    "notes": 1.0,
    "documents": 1.0,
}
UNSIGNED = ("ready", "restricted", "case_version", "priority_rank", "sort_date", "sort_priority")
DATES = ("created_at", "updated_at", "closed_at")
FILTER_TO_FIELD = {"email": "emails", "phone": "phones"}
SUGGEST_FIELDS = ("title", "names")
MAX_HIGHLIGHTS = 3


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for name in KEYWORDS:
        sb.add_text_field(name, stored=name == "case_id", tokenizer_name="raw", fast=True)
    for name in TEXTS:
        sb.add_text_field(name, stored=False)
    for name in UNSIGNED:
        sb.add_unsigned_field(name, stored=False, indexed=True, fast=True)
    for name in DATES:
        sb.add_date_field(name, stored=False, indexed=True, fast=True)
    sb.add_bytes_field("source", stored=True, indexed=False)
    return sb.build()


ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .build()
)


def analyze(text: str) -> list[str]:
    return ANALYZER.analyze(text)


def to_document(source: dict[str, Any], country_code: str) -> tantivy.Document:
    fields = mappings.index_fields(source, country_code)
    fields["contacts"] = [*fields["emails"], *fields["phones"]]
    doc = tantivy.Document()
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is None or v == "":
                continue
            if name in UNSIGNED:
                doc.add_unsigned(name, int(v))
            elif name in DATES:
                doc.add_date(name, v)
            else:
                doc.add_text(name, str(v))
    doc.add_bytes("source", json.dumps(source, separators=(",", ":"), default=str).encode())
    return doc


def source_of(doc: tantivy.Document) -> dict[str, Any]:
    return json.loads(bytes(doc.get_first("source")))


class QueryBuilder:
    """Builds tantivy queries for one schema; filters score nothing, text decides relevance."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema

    def term(self, name: str, value: Any) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, name, value)

    def any_of(self, name: str, values: list[Any]) -> tantivy.Query:
        return tantivy.Query.term_set_query(self.schema, name, values)

    def text_clause(self, text: str, *, fuzzy: bool, prefix: bool = False) -> tantivy.Query | None:
        tokens = analyze(text)
        clauses: list[tantivy.Query] = []
        if tokens:
            for name, boost in TEXTS.items():
                if prefix:
                    q = tantivy.Query.phrase_prefix_query(self.schema, name, tokens)
                elif len(tokens) == 1:
                    q = self.term(name, tokens[0])
                else:
                    q = tantivy.Query.phrase_query(self.schema, name, tokens)
                clauses.append(tantivy.Query.boost_query(q, boost))
            if fuzzy and len(tokens) == 1 and len(tokens[0]) >= 4 and not prefix:
                distance = 1 if len(tokens[0]) <= 6 else 2
                fq = tantivy.Query.fuzzy_term_query(self.schema, "names", tokens[0], distance=distance)
                clauses.append(tantivy.Query.boost_query(fq, 0.5))
        if not prefix:
            clauses.append(
                tantivy.Query.boost_query(self.term("emails", mappings.normalise_email(text)), 5.0)
            )
            clauses.append(tantivy.Query.boost_query(self.term("reference", text.strip().upper()), 10.0))
        if not clauses:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])

    def text_query(self, parsed: Parsed) -> tantivy.Query | None:
        musts: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for word in parsed.words:
            if (clause := self.text_clause(word, fuzzy=True)) is not None:
                musts.append((tantivy.Occur.Must, clause))
        for phrase in parsed.phrases:
            if (clause := self.text_clause(phrase, fuzzy=False)) is not None:
                musts.append((tantivy.Occur.Must, clause))
        for prefix in parsed.prefixes:
            if (clause := self.text_clause(prefix, fuzzy=False, prefix=True)) is not None:
                musts.append((tantivy.Occur.Must, clause))
        for phone in parsed.phones:
            musts.append((tantivy.Occur.Must, tantivy.Query.boost_query(self.term("phones", phone), 5.0)))
        for word in parsed.excluded:
            if (clause := self.text_clause(word, fuzzy=False)) is not None:
                musts.append((tantivy.Occur.MustNot, clause))
        if not any(occur == tantivy.Occur.Must for occur, _ in musts):
            if not musts:
                return None
            musts.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(musts)

    def visibility(self, visibility: Visibility) -> list[tantivy.Query]:
        if visibility.nothing:
            return [tantivy.Query.empty_query()]
        if visibility.everything:
            return []
        out = [self.any_of("team", list(visibility.teams))]
        if not visibility.restricted:
            out.append(self.term("restricted", 0))
        return out

    def filters(self, request: SearchRequest, visibility: Visibility) -> list[tantivy.Query]:
        out = [self.term("ready", 1), *self.visibility(visibility)]
        for key, values in request.all_filters.items():
            out.append(self.any_of(FILTER_TO_FIELD.get(key, key), values))
        for r in request.all_ranges:
            kind = tantivy.FieldType.Unsigned if r.field == "priority_rank" else tantivy.FieldType.Date
            out.append(
                tantivy.Query.range_query(
                    self.schema,
                    r.field,
                    kind,
                    lower_bound=r.low,
                    upper_bound=r.high,
                    include_lower=r.include_low,
                    include_upper=r.include_high,
                )
            )
        return out

    def combine(self, text: tantivy.Query | None, filters: list[tantivy.Query]) -> tantivy.Query:
        clauses = [(tantivy.Occur.Must, text)] if text is not None else []
        clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
        return tantivy.Query.boolean_query(clauses)
