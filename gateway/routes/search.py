"""Search across cases, their parties, notes, documents and messages; trimmed to what the caller may see."""

from __future__ import annotations

from typing import Literal

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from casekit.context import ROLE_ADMIN, ROLE_AUDITOR
from gateway.deps import BEARER, call, principal
from gateway.errors import HttpProblem
from gateway.schemas import Problem

LOOKUP_KEYS = ("reference", "email", "phone")
Sort = Literal["relevance", "newest", "oldest", "priority", "priority_asc"]


class SearchQuery(BaseModel):
    q: str = Field(
        min_length=1,
        max_length=500,
        description='free text with "phrases", prefix*, -exclusions, field:value filters and ranges '
        "(created:>=2024-01-01, priority:>=high); * alone matches every case",
    )
    limit: int = Field(default=20, ge=1, le=100)
    sort: Sort = "relevance"
    cursor: str | None = Field(default=None, max_length=200, description="next_cursor of the previous page")
    facets: bool = Field(default=False, description="count the matching cases by type, stage, status, ...")
    type: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    priority: str | None = Field(default=None, max_length=16)
    queue: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=64)
    sla: str | None = Field(default=None, max_length=16)
    created_from: str | None = Field(default=None, max_length=40, description="ISO date or time, inclusive")
    created_to: str | None = Field(default=None, max_length=40, description="ISO date or time, exclusive")
    min_priority: str | None = Field(default=None, max_length=16)


class Highlight(BaseModel):
    where: str = Field(
        description="title, description, reference, party, custom, note, document, message, filename"
    )
    id: str | None = Field(default=None, description="the note, document or party the snippet is from")
    snippet: str = Field(description="HTML with the matching words in <b>")


class SearchHit(BaseModel):
    case_id: str
    reference: str
    title: str
    status: str
    stage: str = ""
    priority: str
    type: str
    queue: str | None = None
    assignee: str | None = None
    sla: str = "ok"
    created_at: str | None = None
    case_version: int
    score: float
    matched_in: list[str]
    highlights: list[Highlight] = []


class FacetCount(BaseModel):
    value: str | None
    count: int


class SearchResults(BaseModel):
    items: list[SearchHit]
    total_hits: int = Field(description="matching cases the caller may see")
    next_cursor: str | None = None
    facets: dict[str, list[FacetCount]] | None = None


class SuggestQuery(BaseModel):
    prefix: str = Field(min_length=1, max_length=100)
    limit: int = Field(default=8, ge=1, le=20)


class SuggestedTerm(BaseModel):
    text: str
    count: int


class SuggestedCase(BaseModel):
    case_id: str
    reference: str
    title: str
    status: str


class Suggestions(BaseModel):
    terms: list[SuggestedTerm]
    cases: list[SuggestedCase]


class LookupQuery(BaseModel):
    reference: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class LookupResults(BaseModel):
    items: list[SearchHit]


class SearchStatus(BaseModel):
    engine: str
    cases: int
    documents: int
    lag: dict
    rebuild: dict


bp = APIBlueprint(
    "search",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="search")],
    abp_security=BEARER,
    abp_responses={401: Problem, 422: Problem, 503: Problem},
)


@bp.get("/search", responses={200: SearchResults})
def search(query: SearchQuery):
    """Find cases by anything on them; a reference, email or phone finds its case at once."""
    filters = {
        k: getattr(query, k) for k in ("type", "stage", "status", "priority", "queue", "assignee", "sla")
    }
    ranges = {}
    if query.created_from or query.created_to:
        ranges["created"] = f"{query.created_from or ''}..{query.created_to or ''}"
    if query.min_priority:
        ranges["priority"] = f">={query.min_priority}"
    q = "" if query.q.strip() == "*" else query.q
    return call(
        "search",
        "search",
        q,
        query.limit,
        sort=query.sort,
        cursor=query.cursor,
        facets=query.facets,
        filters={k: v for k, v in filters.items() if v},
        ranges=ranges,
    )


@bp.get("/search/suggest", responses={200: Suggestions})
def suggest(query: SuggestQuery):
    """Typeahead: words and cases starting with ``prefix``, only from cases the caller may see."""
    return call("search", "suggest", query.prefix, query.limit)


@bp.get("/search/lookup", responses={200: LookupResults})
def lookup(query: LookupQuery):
    """Instant lookup by exact case reference, party email or party phone (any format)."""
    given = [(k, v) for k in LOOKUP_KEYS if (v := getattr(query, k))]
    if len(given) != 1:
        fields = [{"field": k, "message": "give exactly one of reference, email, phone"} for k in LOOKUP_KEYS]
        raise HttpProblem(
            422, "INVALID_INPUT", "Invalid input", "give exactly one of reference, email, phone", fields
        )
    return {"items": call("search", "lookup", *given[0])}


@bp.get("/search/status", responses={200: SearchStatus, 403: Problem})
def status():
    """Index engine, size, lag (oldest unindexed event age) and the last rebuild (admins, auditors)."""
    principal(ROLE_ADMIN, ROLE_AUDITOR)
    return call("search", "status")
