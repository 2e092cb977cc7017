"""Search across cases and their documents."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gateway.deps import BEARER, call
from gateway.schemas import Problem


class SearchQuery(BaseModel):
    q: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=20, ge=1, le=100)


class SearchHit(BaseModel):
    case_id: str
    reference: str
    title: str
    status: str
    priority: str
    type: str
    case_version: int
    score: float
    matched_in: list[str]


class SearchResults(BaseModel):
    items: list[SearchHit]
    total_hits: int


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
    """Free-text search over case fields, parties and document text; a reference finds its case."""
    return call("search", "search", query.q, query.limit)
