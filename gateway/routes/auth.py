"""Tokens: issue (password), refresh (rotating), revoke a user's sessions."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN
from casekit.db import utcnow
from gateway.auth import InvalidToken, revoke_user_sessions, rotate_refresh, token_pair
from gateway.deps import BEARER, ctx, db, principal, unauthorized
from gateway.errors import HttpProblem
from gateway.schemas import Problem, TokenRequest
from gateway.schemas.gateway import RefreshRequest, Revoked, RevokeRequest, TokenPair
from gateway.users import Revocation, User, authenticate

bp = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth", abp_tags=[Tag(name="auth")])


@bp.post("/token", responses={200: TokenPair, 401: Problem, 422: Problem, 429: Problem})
def create_token(body: TokenRequest):
    """Exchange a username and password for a short-lived access token and a refresh token."""
    with db() as session:
        user = authenticate(session, body.username, body.password)
        if user is None:
            raise HttpProblem(401, "INVALID_CREDENTIALS", "Unauthorized", "wrong username or password")
        return token_pair(session, ctx().settings, user)


@bp.post("/refresh", responses={200: TokenPair, 401: Problem, 422: Problem, 429: Problem})
def refresh_token(body: RefreshRequest):
    """Exchange a refresh token for a new pair. Each refresh token works once; presenting a used
    one again revokes the whole session."""
    try:
        with db() as session:
            return rotate_refresh(session, ctx().settings, body.refresh_token)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None


@bp.post(
    "/revoke",
    responses={200: Revoked, 401: Problem, 403: Problem, 404: Problem, 422: Problem},
    security=BEARER,
)
def revoke_sessions(body: RevokeRequest):
    """Revoke every session of a user (default: the caller): their access and refresh tokens stop
    working at once. Revoking another user's sessions needs the admin role."""
    who = principal()
    target = body.user_id or who.user_id
    if target != who.user_id and not who.has_role(ROLE_ADMIN):
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "only admins revoke another user's sessions")
    with db() as session:
        user = session.get(User, target)
        if user is not None:
            revoke_user_sessions(session, user)
        elif ":" in target:  # an external (OIDC) subject or an API key principal
            row = session.get(Revocation, target) or Revocation(subject=target, revoked_at=utcnow())
            row.revoked_at = utcnow()
            session.add(row)
        else:
            raise HttpProblem(404, "NOT_FOUND", "Not found", "no such user")
    return {"user_id": target, "revoked": True}
