"""Outbound webhook subscriptions (admins): event types, a signing secret shown once, the delivery
log and redelivery. The dispatcher process (``gateway/webhooks``) does the sending."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid

from flask import jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import delete, select

from casekit.context import ROLE_ADMIN
from casekit.db import utcnow
from gateway.deps import BEARER, db, principal
from gateway.errors import HttpProblem
from gateway.schemas import IfMatchHeader, Problem
from gateway.schemas.gateway import (
    DeliveryList,
    DeliveryOut,
    DeliveryPath,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookPath,
    WebhookUpdate,
)
from gateway.webhooks.models import EVENT_TYPES, Delivery, Subscription

bp = APIBlueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="webhooks")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)


def _out(sub: Subscription) -> dict:
    return {
        "id": sub.id,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "description": sub.description or "",
        "active": bool(sub.active),
        "created_at": sub.created_at.isoformat(),
    }


def _delivery(row: Delivery) -> dict:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.state in ("pending", "retrying") else None,
    }


def etag(out: dict) -> str:
    return '"' + hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:20] + '"'


def _tagged(out: dict, status: int = 200):  # noqa: ANN202
    response = jsonify(out)
    response.status_code = status
    response.headers["ETag"] = etag(out)
    return response


def _check_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise HttpProblem(
            422,
            "INVALID_INPUT",
            "Invalid input",
            "unknown event types",
            [{"field": "event_types", "message": f"unknown: {', '.join(sorted(unknown))[:300]}"}],
        )
    return list(dict.fromkeys(types))


def _get(session, webhook_id: str, lock: bool = False) -> Subscription:  # noqa: ANN001
    """The subscription; ``lock``: under a row lock until the request's transaction ends, so an
    ETag checked against it stays true until the change is written."""
    sub = session.get(Subscription, webhook_id, with_for_update=lock or None, populate_existing=lock)
    if sub is None:
        raise HttpProblem(404, "NOT_FOUND", "Not found", "no such webhook")
    return sub


def _matches(if_match: str, sub: Subscription) -> bool:
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag(_out(sub)) in tags


@bp.post("/webhooks", responses={201: WebhookCreated, 422: Problem})
def create_webhook(body: WebhookCreate):
    """Subscribe a URL to event types (``*`` for all). Each delivery is a POST with the header
    ``Casework-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``."""
    who = principal(ROLE_ADMIN)
    with db() as session:
        sub = Subscription(
            id=str(uuid.uuid4()),
            url=body.url,
            event_types=_check_types(body.event_types),
            secret="whsec_" + secrets.token_urlsafe(32),
            description=body.description,
            owner=who.user_id or "",
            active=True,
            created_at=utcnow(),
        )
        session.add(sub)
        session.flush()
        response = jsonify({**_out(sub), "secret": sub.secret})
    response.status_code = 201
    return response


@bp.get("/webhooks", responses={200: WebhookList})
def list_webhooks():
    """Every subscription (admins); never the secrets."""
    principal(ROLE_ADMIN)
    with db() as session:
        return {
            "items": [
                _out(s) for s in session.scalars(select(Subscription).order_by(Subscription.created_at))
            ]
        }


@bp.get("/webhooks/<webhook_id>", responses={200: WebhookOut, 404: Problem})
def get_webhook(path: WebhookPath):
    """One subscription."""
    principal(ROLE_ADMIN)
    with db() as session:
        return _tagged(_out(_get(session, path.webhook_id)))


@bp.patch(
    "/webhooks/<webhook_id>",
    responses={200: WebhookOut, 404: Problem, 412: Problem, 422: Problem, 428: Problem},
)
def update_webhook(path: WebhookPath, body: WebhookUpdate, header: IfMatchHeader):
    """Change the URL, event types or description, or pause (``active: false``) and resume.
    Send ``If-Match`` with the subscription's ETag (428 without, 412 when it changed)."""
    principal(ROLE_ADMIN)
    if not header.if_match:
        raise HttpProblem(
            428, "PRECONDITION_REQUIRED", "Precondition required", "send If-Match with the ETag"
        )
    with db() as session:
        sub = _get(session, path.webhook_id, lock=True)
        if not _matches(header.if_match, sub):
            raise HttpProblem(412, "STALE_VERSION", "Precondition failed", "the webhook has changed")
        if body.url is not None:
            sub.url = body.url
        if body.event_types is not None:
            sub.event_types = _check_types(body.event_types)
        if body.description is not None:
            sub.description = body.description
        if body.active is not None:
            sub.active = body.active
        return _tagged(_out(sub))


@bp.delete("/webhooks/<webhook_id>", responses={200: WebhookOut, 404: Problem, 412: Problem})
def delete_webhook(path: WebhookPath, header: IfMatchHeader):
    """Remove a subscription and its delivery log.

    ``If-Match`` with the subscription's ETag is honoured (412 when it changed meanwhile) but not
    required: a delete overwrites nobody's edit with stale content."""
    principal(ROLE_ADMIN)
    with db() as session:
        sub = _get(session, path.webhook_id, lock=bool(header.if_match))
        if header.if_match and not _matches(header.if_match, sub):
            raise HttpProblem(412, "STALE_VERSION", "Precondition failed", "the webhook has changed")
        out = _out(sub)
        session.execute(delete(Delivery).where(Delivery.subscription_id == sub.id))
        session.delete(sub)
        return out


@bp.get("/webhooks/<webhook_id>/deliveries", responses={200: DeliveryList, 404: Problem})
def list_deliveries(path: WebhookPath):
    """The latest 100 deliveries, newest first: state, attempts, last status or error."""
    principal(ROLE_ADMIN)
    with db() as session:
        _get(session, path.webhook_id)
        rows = session.scalars(
            select(Delivery)
            .where(Delivery.subscription_id == path.webhook_id)
            .order_by(Delivery.created_at.desc())
            .limit(100)
        )
        return {"items": [_delivery(r) for r in rows]}


@bp.post(
    "/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver", responses={202: DeliveryOut, 404: Problem}
)
def redeliver(path: DeliveryPath):
    """Send a delivery again now (delivered or failed ones included), with a fresh signature."""
    principal(ROLE_ADMIN)
    with db() as session:
        row = session.get(Delivery, path.delivery_id)
        if row is None or row.subscription_id != path.webhook_id:
            raise HttpProblem(404, "NOT_FOUND", "Not found", "no such delivery")
        row.state, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
        response = jsonify(_delivery(row))
    response.status_code = 202
    return response
