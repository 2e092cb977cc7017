"""What every route needs: the app context, the principal, role checks."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.db import transaction
from gateway.auth import InvalidToken, bearer_token, principal_for, verify_token
from gateway.clients import Rpc
from gateway.errors import HttpProblem
from gateway.settings import Settings
from gateway.users import get_active

BEARER = [{"bearer": []}]


@dataclass
class AppContext:
    settings: Settings
    rpc: Rpc
    sessions: sessionmaker


def ctx() -> AppContext:
    return current_app.extensions["casework"]


def db() -> AbstractContextManager[Session]:
    """A session that commits on success and rolls back on error."""
    return transaction(ctx().sessions)


def unauthorized(detail: str) -> HttpProblem:
    return HttpProblem(
        401,
        "UNAUTHORIZED",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def principal(*roles: str) -> Principal:
    """The authenticated caller; 401 without a valid token, 403 without one of ``roles``."""
    found = getattr(g, "principal", None)
    if found is None:
        try:
            claims = verify_token(ctx().settings, bearer_token(request.headers.get("Authorization")))
        except InvalidToken as exc:
            raise unauthorized(str(exc)) from None
        with db() as session:
            user = get_active(session, str(claims["sub"]))
            if user is None:
                raise unauthorized("the token's user is unknown or disabled")
            found = principal_for(user, g.request_id)
        g.principal = found
    if roles and not found.has_role(*roles):
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", f"requires one of the roles: {', '.join(roles)}")
    return found


def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return ctx().rpc.call(principal(), service, method, *args, **kwargs)
