"""The caseworker's console: static ES modules and CSS served by the gateway.

The console is a client of the public API only (``/api/v1``); this module just hands out its
files with a Content-Security-Policy that allows nothing inline: scripts, styles, fetches and
frames from this origin, document previews from ``blob:`` URLs the console makes itself.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self' blob:",
        "object-src 'none'",
        "media-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def serve(relative: str) -> Response:
    """One file under ``static/`` (no directory listings, no paths outside it)."""
    target = (STATIC / relative).resolve()
    if not target.is_file() or STATIC not in target.parents:
        abort(404)
    response = send_from_directory(
        STATIC, relative, mimetype=TYPES.get(target.suffix), max_age=0, etag=True, conditional=True
    )
    response.headers["Content-Security-Policy"] = CSP
    # assets may be revalidated cheaply; the API answers stay no-store
    response.headers["Cache-Control"] = "no-cache"
    return response
