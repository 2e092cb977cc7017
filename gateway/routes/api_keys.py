"""API keys for integrations: created by admins, shown once, stored hashed, scoped, revocable.

Send one as ``Authorization: Bearer cwk_...`` or ``X-API-Key: cwk_...``. A key acts with its own
roles and teams; the ``read`` scope allows GET only, ``write`` allows everything its roles do.
"""

from __future__ import annotations

from flask import jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import select

from casekit.context import ROLE_ADMIN
from casekit.db import utcnow
from gateway.auth import new_api_key
from gateway.deps import BEARER, db, principal
from gateway.errors import HttpProblem
from gateway.schemas import Problem
from gateway.schemas.gateway import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut, ApiKeyPath
from gateway.users import ApiKey

bp = APIBlueprint(
    "api_keys",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="api keys")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)


def _out(key: ApiKey) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "roles": list(key.roles),
        "teams": list(key.teams),
        "scopes": list(key.scopes),
        "created_by": key.created_by,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@bp.post("/api-keys", responses={201: ApiKeyCreated, 422: Problem})
def create_api_key(body: ApiKeyCreate):
    """Create a key (admins). The response is the only time the key itself is shown."""
    who = principal(ROLE_ADMIN)
    with db() as session:
        key, secret = new_api_key(
            session,
            name=body.name,
            roles=list(dict.fromkeys(body.roles)),
            teams=body.teams,
            scopes=list(dict.fromkeys(body.scopes)),
            created_by=who.user_id or "",
        )
        response = jsonify({**_out(key), "key": secret})
    response.status_code = 201
    return response


@bp.get("/api-keys", responses={200: ApiKeyList})
def list_api_keys():
    """Every key (admins); never the secret."""
    principal(ROLE_ADMIN)
    with db() as session:
        keys = session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
        return {"items": [_out(k) for k in keys]}


@bp.delete("/api-keys/<key_id>", responses={200: ApiKeyOut, 404: Problem})
def revoke_api_key(path: ApiKeyPath):
    """Revoke a key (admins): it stops working at once."""
    principal(ROLE_ADMIN)
    with db() as session:
        key = session.get(ApiKey, path.key_id)
        if key is None:
            raise HttpProblem(404, "NOT_FOUND", "Not found", "no such API key")
        key.revoked_at = key.revoked_at or utcnow()
        return _out(key)
