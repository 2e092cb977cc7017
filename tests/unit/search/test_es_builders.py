"""The Elasticsearch adapter's mappings and query builders, as pure data (no cluster needed)."""

from __future__ import annotations

import pytest

from services.search.es_index import (
    MAPPINGS,
    SETTINGS,
    es_document,
    parse_response,
    search_body,
    visibility_filter,
)
from services.search.queries import FACET_FIELDS, Visibility, build_request, encode_cursor
from tests.unit.search.factories import snapshot


def source_of(case: dict) -> dict:
    return {
        "case_id": case["id"],
        "case": case,
        "case_version": 1,
        "notes": {},
        "documents": {},
        "routing": {"queue": None, "assignee": None},
        "sla": {"state": "ok"},
    }


def test_every_document_field_is_mapped_and_the_mapping_is_strict() -> None:
    document = es_document(source_of(snapshot()))

    assert MAPPINGS["dynamic"] == "strict"
    assert set(document) == set(MAPPINGS["properties"])
    assert SETTINGS["refresh_interval"] == "1s"
    assert document["words"] == ["ada", "boiler", "broken", "flat", "in", "lovelace", "three"]


def test_visibility_becomes_a_filter() -> None:
    assert visibility_filter(Visibility(everything=True)) == []
    assert visibility_filter(Visibility(nothing=True)) == [{"match_none": {}}]
    assert visibility_filter(Visibility(teams=("_none", "north"))) == [
        {"terms": {"team": ["_none", "north"]}},
        {"term": {"restricted": 0}},
    ]
    assert visibility_filter(Visibility(teams=("_none",), restricted=True)) == [
        {"terms": {"team": ["_none"]}}
    ]


def test_the_search_body_filters_sorts_counts_and_pages() -> None:
    request = build_request("boiler type:claim created:>=2026-01-01", facets=True, sort="newest")
    body = search_body(request, Visibility(teams=("_none",)))

    filters = body["query"]["bool"]["filter"]
    assert {"term": {"ready": 1}} in filters and {"terms": {"type": ["claim"]}} in filters
    assert {"range": {"created_at": {"gte": "2026-01-01T00:00:00+00:00"}}} in filters
    assert body["sort"] == [{"sort_date": "desc"}] and body["track_total_hits"] is True
    assert set(body["aggs"]) == set(FACET_FIELDS)
    assert "highlight" in body and body["size"] == 21

    paged = search_body(
        build_request("boiler", sort="relevance", cursor=encode_cursor("relevance", [1.5, 9])), Visibility()
    )
    assert paged["search_after"] == [1.5, 9] and "from" not in paged


def test_a_response_becomes_hits_with_highlights_facets_and_a_cursor() -> None:
    case = snapshot()
    request = build_request("boiler", limit=1, facets=True)
    hit = {
        "_score": 2.0,
        "_source": {"source": source_of(case)},
        "sort": [2.0, 77],
        "highlight": {"notes": ["<b>boiler</b>"]},
    }
    response = {
        "hits": {"total": {"value": 2}, "hits": [hit, hit]},
        "aggregations": {name: {"buckets": [{"key": "_none", "doc_count": 2}]} for name in FACET_FIELDS},
    }

    out = parse_response(request, response, has_text=True)

    assert out["total_hits"] == 2 and [i["case_id"] for i in out["items"]] == [case["id"]]
    assert out["items"][0]["matched_in"] == ["note"]
    assert out["facets"]["queue"] == [{"value": None, "count": 2}]
    assert out["next_cursor"] == encode_cursor("relevance", [2.0, 77])


def test_client_options_take_the_password_unless_the_url_has_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.search.es_index import client_options

    monkeypatch.delenv("ELASTIC_PASSWORD", raising=False)
    plain = client_options({"ELASTICSEARCH_URL": "http://es:9200", "ELASTIC_PASSWORD": "pw"})
    assert plain["hosts"] == ["http://es:9200"] and plain["basic_auth"] == ("elastic", "pw")
    assert "basic_auth" not in client_options({"ELASTICSEARCH_URL": "http://es:9200"})
    in_url = client_options({"ELASTICSEARCH_URL": "http://elastic:pw@es:9200", "ELASTIC_PASSWORD": "pw"})
    assert "basic_auth" not in in_url
    with pytest.raises(RuntimeError):
        client_options({})
    monkeypatch.setenv("ELASTIC_PASSWORD", "from-env")
    assert client_options({"ELASTICSEARCH_URL": "http://es:9200"})["basic_auth"] == ("elastic", "from-env")


def test_a_highlight_names_the_note_document_or_message_it_came_from() -> None:
    from services.search.es_queries import locate

    source = {
        **source_of(snapshot()),
        "notes": {"n-1": {"body": "first note"}, "n-2": {"body": "the boiler again"}},
        "documents": {
            "d-1": {"text": "survey of the boiler", "filename": "s.pdf", "kind": "document"},
            "m-1": {"text": "a boiler message", "filename": "", "kind": "message"},
        },
    }

    assert locate(source, "notes", "the <b>boiler</b> again") == {
        "where": "note",
        "id": "n-2",
        "snippet": "the <b>boiler</b> again",
    }
    assert locate(source, "documents", "a <b>boiler</b> message")["where"] == "message"
    assert locate(source, "documents", "survey of the <b>boiler</b>")["id"] == "d-1"
    assert locate(source, "title", "<b>Broken</b> boiler")["where"] == "title"
