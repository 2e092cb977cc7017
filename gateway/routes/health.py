"""Liveness and readiness."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text

from casekit.context import Principal
from gateway import metrics
from gateway.clients import Call
from gateway.deps import ctx, db
from gateway.schemas import Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="operations")])


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The gateway process is up."""
    return {"status": "ok", "checks": {}}


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """The broker, the gateway's database and every service answer."""
    checks: dict[str, str] = {}
    try:
        with db() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, do not raise
        checks["database"] = f"failed: {type(exc).__name__}"
    system = Principal.system("gateway-readiness")
    try:
        outcomes = ctx().rpc.fanout(system, [Call(s, "health") for s in ctx().settings.service_names])
        for name, outcome in zip(ctx().settings.service_names, outcomes, strict=True):
            checks[name] = "ok" if outcome.error is None else f"failed: {outcome.error}"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def prometheus_metrics():
    """Prometheus metrics of every gateway worker (text exposition format)."""
    body, content_type = metrics.render(ctx().settings.amqp_uri)
    return Response(body, mimetype=content_type.split(";")[0], headers={"Content-Type": content_type})
