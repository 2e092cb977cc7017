"""Token issue."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from gateway.auth import issue_token
from gateway.deps import ctx, db
from gateway.errors import HttpProblem
from gateway.schemas import Problem, TokenRequest, TokenResponse
from gateway.users import authenticate

bp = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth", abp_tags=[Tag(name="auth")])


@bp.post("/token", responses={200: TokenResponse, 401: Problem, 422: Problem})
def create_token(body: TokenRequest):
    """Exchange a username and password for a short-lived access token."""
    with db() as session:
        user = authenticate(session, body.username, body.password)
        if user is None:
            raise HttpProblem(401, "INVALID_CREDENTIALS", "Unauthorized", "wrong username or password")
        return issue_token(ctx().settings, user_id=user.id, roles=list(user.roles))
