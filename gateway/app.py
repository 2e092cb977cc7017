"""The composition root: ``create_app(settings, rpc, sessions)`` builds the WSGI app."""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import re
import secrets
import time
import uuid
from typing import Any

from flask import Response, g, request
from flask_openapi3 import Info, OpenAPI
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from casekit.contracts.validation import field_errors
from casekit.db import make_engine
from gateway import idempotency, metrics, routes
from gateway.clients import PooledRpc, Rpc
from gateway.deps import AppContext, authenticate
from gateway.errors import HttpProblem, from_exception, problem
from gateway.panels import Panels
from gateway.panels import load as load_panels
from gateway.ratelimit import RateLimits
from gateway.settings import Settings

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "application/merge-patch+json")
MAX_JSON_DEPTH = 64
UPLOAD_ENDPOINTS = {"documents.upload_document", "documents.upload_version"}
RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-Id",
    "traceparent",
]
EXPOSED = ["ETag", "Location", "Retry-After", "X-Request-Id", "Idempotent-Replayed", "traceparent"]


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


def traceparent(incoming: str | None) -> str:
    """A W3C traceparent for this request: the caller's trace continued with a new span id, or a
    new trace when none (or a malformed one, or the all-zero ids) came in."""
    match = TRACEPARENT.match((incoming or "").strip().lower())
    trace_id, flags = (match.group(1), match.group(3)) if match else ("0" * 32, "01")
    if trace_id == "0" * 32 or (match and match.group(2) == "0" * 16):
        trace_id, flags = secrets.token_hex(16), "01"
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def _caller_id() -> str | None:
    try:
        return authenticate().user_id
    except HttpProblem:
        return None


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
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        },
        validation_error_status=422,
        validation_error_callback=_validation_problem,
        doc_prefix="/api/v1/docs",
        doc_url="/openapi.json",
    )
    if sessions is None:
        # one connection per request thread (gunicorn's GATEWAY_THREADS): with fewer, a loaded
        # database makes requests queue for a connection and the rate limiter give up (seen under
        # the long fault tier with 8 connections for 16 threads)
        threads = int(os.environ.get("GATEWAY_THREADS", "16"))
        sessions = sessionmaker(bind=make_engine(settings.db_url, pool_size=threads), expire_on_commit=False)
    app.extensions["casework"] = AppContext(
        settings=settings,
        rpc=rpc or PooledRpc(settings.amqp_uri, settings.rpc_timeout),
        sessions=sessions,
    )
    app.extensions["casework"].extras["panels"] = Panels(load_panels(settings.panels_file))
    limiter = RateLimits(settings, getattr(sessions, "kw", {}).get("bind"))
    if settings.cors_origins:
        from flask_cors import CORS

        CORS(
            app,
            resources={r"/api/*": {"origins": list(settings.cors_origins)}},
            allow_headers=CORS_HEADERS,
            expose_headers=EXPOSED,
            max_age=600,
        )

    @app.before_request
    def start() -> Response | None:
        g.started = time.perf_counter()
        metrics.IN_FLIGHT.inc()
        g.in_flight = True
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or str(uuid.uuid4())
        g.traceparent = traceparent(request.headers.get("traceparent"))
        limited = limiter.check(_caller_id() if _has_credentials() else None)
        if limited is not None:
            return limited
        checked = _check_body()
        if checked is not None:
            return checked
        if _operation_key() in protected:
            authenticate()  # 401 before the request's validation: no hints for callers without a token
        return idempotency.begin()

    protected: set[tuple[str, str]] = set()

    def _operation_key() -> tuple[str, str] | None:
        if request.url_rule is None:
            return None
        return request.method.lower(), RULE_PARAM.sub(r"{\1}", request.url_rule.rule)

    def _has_credentials() -> bool:
        return bool(request.headers.get("Authorization") or request.headers.get("X-API-Key"))

    def _check_body() -> Response | None:
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
        response = idempotency.finish(response)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers["traceparent"] = g.get("traceparent", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if settings.env != "development":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not request.path.startswith("/api/v1/docs"):
            response.headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
        _observe(response.status_code)
        return response

    def _observe(status: int) -> None:
        if not g.pop("in_flight", False):
            return
        metrics.IN_FLIGHT.dec()
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.REQUESTS.labels(request.method, route, str(status)).inc()
        metrics.LATENCY.labels(request.method, route, str(status)).observe(elapsed)
        who = g.get("principal")
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "request_id": g.get("request_id"),
                "correlation_id": g.get("request_id"),
                "traceparent": g.get("traceparent"),
                "user_id": who.user_id if who is not None else None,
            },
        )

    @app.teardown_request
    def never_leak_in_flight(_exc: BaseException | None) -> None:
        if g.pop("in_flight", False):
            metrics.IN_FLIGHT.dec()

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
        earlier = dict(app.paths)
        app.register_api(module.bp)
        for path, item in earlier.items():  # two blueprints on one path: keep both's operations
            if app.paths.get(path) is not item:
                _merge_path_item(item, app.paths[path])
    for path, item in app.paths.items():
        for method in HTTP_METHODS:
            operation = getattr(item, method, None)
            if operation is not None and operation.security:
                protected.add((method, path))
    return app


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def _merge_path_item(old: Any, new: Any) -> None:
    """flask-openapi3 replaces a path's item when another blueprint registers the same path."""
    for method in HTTP_METHODS:
        if getattr(new, method, None) is None and getattr(old, method, None) is not None:
            setattr(new, method, getattr(old, method))


def route_modules() -> list[Any]:
    """Every module under ``gateway/routes`` that defines a blueprint ``bp``, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "bp"):
            found.append(module)
    return found
