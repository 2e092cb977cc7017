"""Elasticsearch index settings, analyzers and mappings in code, and pure query builders.

``search_body`` turns a ``SearchRequest`` and the caller's ``Visibility`` into one search request
(filters, permission trimming, sort, ``search_after`` cursor, highlights, facet aggregations);
``parse_response`` turns the answer into the engine-neutral result. Unit-tested as data.
"""

from __future__ import annotations

import re
from typing import Any

from services.search import mappings
from services.search.queries import (
    FACET_FIELDS,
    SORTS,
    Parsed,
    SearchRequest,
    Visibility,
    decode_cursor,
    encode_cursor,
    facet_value,
)

KEYWORD_FIELDS = ("case_id", "reference", "type", "stage", "status", "priority", "channel", "team")
KEYWORD_FIELDS += ("queue", "assignee", "sla", "emails", "phones", "words")
TEXT_FIELDS = {
    "title": 3.0,
    "reference_text": 3.0,
    "names": 2.0,
    "filenames": 1.5,
    "description": 1.0,
    "custom": 1.0,
    "notes": 1.0,
    "documents": 1.0,
}
HIGHLIGHT_WHERE = {
    "title": "title",
    "description": "description",
    "reference_text": "reference",
    "names": "party",
    "custom": "custom",
    "notes": "note",
    "documents": "document",
    "filenames": "filename",
}
SETTINGS = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    "max_result_window": 10000,
    "analysis": {
        "analyzer": {
            "casework_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            }
        },
        "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
    },
}
MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in KEYWORD_FIELDS},
        **{name: {"type": "text", "analyzer": "casework_text"} for name in TEXT_FIELDS},
        "ready": {"type": "byte"},
        "restricted": {"type": "byte"},
        "case_version": {"type": "long"},
        "priority_rank": {"type": "byte"},
        "sort_date": {"type": "unsigned_long"},
        "sort_priority": {"type": "unsigned_long"},
        "created_at": {"type": "date"},
        "updated_at": {"type": "date"},
        "closed_at": {"type": "date"},
        "source": {"type": "object", "enabled": False},
    },
}
WORD = re.compile(r"\w+")
TAGS = re.compile(r"</?b>")


# --- pure builders -------------------------------------------------------------------------------


def es_document(source: dict[str, Any], country_code: str = "44") -> dict[str, Any]:
    fields = mappings.index_fields(source, country_code)
    fields["words"] = sorted(
        {w.lower() for t in [fields["title"], *fields["names"]] for w in WORD.findall(t)}
    )
    for name in ("created_at", "updated_at", "closed_at"):
        fields[name] = fields[name].isoformat() if fields[name] else None
    fields["source"] = source
    return fields


def visibility_filter(visibility: Visibility) -> list[dict[str, Any]]:
    if visibility.nothing:
        return [{"match_none": {}}]
    if visibility.everything:
        return []
    out: list[dict[str, Any]] = [{"terms": {"team": list(visibility.teams)}}]
    if not visibility.restricted:
        out.append({"term": {"restricted": 0}})
    return out


def _text_clause(text: str, *, fuzzy: bool, prefix: bool = False) -> dict[str, Any]:
    fields = [f"{name}^{boost}" for name, boost in TEXT_FIELDS.items()]
    should: list[dict[str, Any]] = [
        {
            "multi_match": {
                "query": text,
                "fields": fields,
                "type": "phrase_prefix" if prefix else "phrase",
            }
        }
    ]
    if fuzzy and len(text) >= 4 and " " not in text:
        should.append({"match": {"names": {"query": text, "fuzziness": "AUTO", "boost": 0.5}}})
    if not prefix:
        should.append({"term": {"emails": {"value": mappings.normalise_email(text), "boost": 5.0}}})
        should.append({"term": {"reference": {"value": text.strip().upper(), "boost": 10.0}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def text_query(parsed: Parsed) -> dict[str, Any] | None:
    must = [_text_clause(w, fuzzy=True) for w in parsed.words]
    must += [_text_clause(p, fuzzy=False) for p in parsed.phrases]
    must += [_text_clause(p, fuzzy=False, prefix=True) for p in parsed.prefixes]
    must += [{"term": {"phones": {"value": p, "boost": 5.0}}} for p in parsed.phones]
    must_not = [_text_clause(w, fuzzy=False) for w in parsed.excluded]
    if not must and not must_not:
        return None
    return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}


def filters(request: SearchRequest, visibility: Visibility) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"term": {"ready": 1}}, *visibility_filter(visibility)]
    for key, values in request.all_filters.items():
        out.append({"terms": {{"email": "emails", "phone": "phones"}.get(key, key): values}})
    for r in request.all_ranges:
        bounds: dict[str, Any] = {}
        if r.low is not None:
            bounds["gte" if r.include_low else "gt"] = r.low if isinstance(r.low, int) else r.low.isoformat()
        if r.high is not None:
            bounds["lte" if r.include_high else "lt"] = (
                r.high if isinstance(r.high, int) else r.high.isoformat()
            )
        out.append({"range": {r.field: bounds}})
    return out


def search_body(request: SearchRequest, visibility: Visibility) -> dict[str, Any]:
    text = text_query(request.parsed)
    query = {"bool": {"must": [text] if text else [], "filter": filters(request, visibility)}}
    keyed = SORTS[request.sort]
    if keyed is None:
        sort: list[Any] = [{"_score": "desc"}, {"sort_date": "desc"}]
    else:
        sort = [{keyed[0]: keyed[1]}]
    body: dict[str, Any] = {
        "query": query,
        "size": request.limit + 1,
        "sort": sort,
        "track_total_hits": True,
        "source": ["source"],
    }
    position = decode_cursor(request)
    if position is not None:
        body["search_after"] = position if isinstance(position, list) else [position]
    if text is not None:
        body["highlight"] = {
            "fields": {name: {"number_of_fragments": 1, "fragment_size": 160} for name in TEXT_FIELDS},
            "pre_tags": ["<b>"],
            "post_tags": ["</b>"],
        }
    if request.facets:
        body["aggs"] = {name: {"terms": {"field": name, "size": 50}} for name in FACET_FIELDS}
    return body


def locate(source: dict[str, Any], field_name: str, fragment: str) -> dict[str, Any]:
    """Which note, document, message or party a highlighted fragment of ``field_name`` came from."""
    plain = TAGS.sub("", fragment)
    for where, item_id, piece_field, text in mappings.text_pieces(source):
        if piece_field == field_name and plain in text:
            return {"where": where, "id": item_id, "snippet": fragment}
    return {"where": HIGHLIGHT_WHERE[field_name], "id": None, "snippet": fragment}


def parse_response(request: SearchRequest, response: dict[str, Any], has_text: bool) -> dict[str, Any]:
    hits = response["hits"]["hits"]
    more = len(hits) > request.limit
    hits = hits[: request.limit]
    items = []
    for hit in hits:
        source = hit["_source"]["source"]
        highlights = [
            locate(source, name, fragments[0])
            for name, fragments in (hit.get("highlight") or {}).items()
            if name in HIGHLIGHT_WHERE and fragments
        ][:3]
        matched: list[str] = []
        for h in highlights:
            kind = {"note": "note", "document": "document", "message": "message", "filename": "document"}.get(
                h["where"], "case"
            )
            if kind not in matched:
                matched.append(kind)
        if has_text and not matched:
            matched = ["case"]
        items.append(
            {
                **mappings.hit_fields(source),
                "score": round(float(hit.get("_score") or 0.0), 4),
                "matched_in": matched,
                "highlights": highlights,
            }
        )
    out: dict[str, Any] = {
        "items": items,
        "total_hits": int(response["hits"]["total"]["value"]),
        "next_cursor": encode_cursor(request.sort, hits[-1]["sort"]) if more and hits else None,
    }
    if request.facets:
        aggs = response.get("aggregations") or {}
        out["facets"] = {
            name: [
                {"value": facet_value(b["key"]), "count": int(b["doc_count"])}
                for b in aggs.get(name, {}).get("buckets", [])
            ]
            for name in FACET_FIELDS
        }
    return out
