"""The composition root: ``create_app(settings, rpc, sessions)`` builds the WSGI app."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import uuid
from typing import Any

from flask import Response, g, request
from flask_openapi3 import Info, OpenAPI
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from casekit.contracts.validation import field_errors
from casekit.db import make_engine
from gateway import routes
from gateway.clients import PooledRpc, Rpc
from gateway.deps import AppContext
from gateway.errors import from_exception, problem
from gateway.settings import Settings

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "application/merge-patch+json")
MAX_JSON_DEPTH = 64
UPLOAD_ENDPOINTS = {"documents.upload_document", "documents.upload_version"}


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _validation_problem(exc: ValidationError) -> Response:
    fields = field_errors(exc)
    return problem(422, "INVALID_INPUT", "Invalid input", "the request does not match the API", fields)


def create_app(
    settings: Settings | None = None, rpc: Rpc | None = None, sessions: sessionmaker | None = None
) -> OpenAPI:
    settings = settings or Settings.from_env()
    app = OpenAPI(
        __name__,
        info=Info(
            title="Casework API",
            version="1.0.0",
            description="Case management: cases, documents, queues, search.",
        ),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        validation_error_status=422,
        validation_error_callback=_validation_problem,
        doc_prefix="/api/v1/docs",
        doc_url="/openapi.json",
    )
    if sessions is None:
        sessions = sessionmaker(bind=make_engine(settings.db_url, pool_size=8), expire_on_commit=False)
    app.extensions["casework"] = AppContext(
        settings=settings,
        rpc=rpc or PooledRpc(settings.amqp_uri, settings.rpc_timeout),
        sessions=sessions,
    )

    @app.before_request
    def start() -> Response | None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or str(uuid.uuid4())
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = settings.max_upload_bytes
            return None
        request.max_content_length = settings.max_json_bytes
        if request.method in ("POST", "PUT", "PATCH") and request.mimetype in JSON_TYPES:
            raw = request.get_data(cache=True)
            try:
                parsed = json.loads(raw) if raw else None
            except (ValueError, RecursionError):
                return problem(400, "MALFORMED_JSON", "Malformed JSON", "the body is not valid JSON")
            if parsed is None:
                return problem(400, "MALFORMED_JSON", "Malformed JSON", "the body is empty")
            if _too_deep(parsed):
                return problem(
                    400,
                    "MALFORMED_JSON",
                    "Malformed JSON",
                    f"the body nests deeper than {MAX_JSON_DEPTH} levels",
                )
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith("/api/v1/docs"):
            response.headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        return problem(413, "PAYLOAD_TOO_LARGE", "Payload too large", "the request body is too large")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").upper().replace(" ", "_")
        return problem(exc.code or 500, code, exc.name or "Error", exc.description or "")

    @app.errorhandler(Exception)
    def any_error(exc: Exception) -> Response:
        return from_exception(exc)

    for module in route_modules():
        app.register_api(module.bp)
    return app


def route_modules() -> list[Any]:
    """Every module under ``gateway/routes`` that defines a blueprint ``bp``, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "bp"):
            found.append(module)
    return found
