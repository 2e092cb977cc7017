"""Search across cases and their documents."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from gateway.deps import BEARER, call
from gateway.schemas import Problem, SearchQuery, SearchResults

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
