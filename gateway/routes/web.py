"""The console's pages and assets, outside ``/api/v1`` and left out of the OpenAPI document."""

from __future__ import annotations

from flask import redirect
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field

from gateway.web import serve

bp = APIBlueprint("web", __name__, doc_ui=False)


class AssetPath(BaseModel):
    asset: str = Field(max_length=200)


@bp.get("/", doc_ui=False)
def root():
    """The console is the gateway's front page."""
    return redirect("/console/", code=302)


@bp.get("/console", doc_ui=False)
def console_bare():
    return redirect("/console/", code=301)


@bp.get("/console/", doc_ui=False)
def console_index():
    return serve("index.html")


@bp.get("/console/<path:asset>", doc_ui=False)
def console_asset(path: AssetPath):
    return serve(path.asset)
