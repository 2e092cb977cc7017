"""What every route needs: the app context, the principal, role checks."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.db import transaction
from gateway.auth import InvalidToken, bearer_token, verify_token
from gateway.clients import Rpc
from gateway.errors import HttpProblem
from gateway.settings import Settings
from gateway.users import get_active

BEARER = [{"bearer": []}]


class UserCache:
    """Active users' roles for a few seconds, so a burst of requests costs one lookup.

    The token carries identity only; a demotion or a disabled account is seen within
    ``ttl`` seconds on every worker.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self.entries: dict[str, tuple[float, tuple[tuple[str, ...], tuple[str, ...]] | None]] = {}
        self.lock = threading.Lock()

    def get(self, user_id: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        now = time.monotonic()
        with self.lock:
            hit = self.entries.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with db() as session:
            user = get_active(session, user_id)
            value = (tuple(user.roles or ()), tuple(user.teams or ())) if user else None
        with self.lock:
            if len(self.entries) > 10000:
                self.entries.clear()
            self.entries[user_id] = (now + self.ttl, value)
        return value


@dataclass
class AppContext:
    settings: Settings
    rpc: Rpc
    sessions: sessionmaker
    users: UserCache = field(default_factory=UserCache)


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
        user_id = str(claims["sub"])
        access = ctx().users.get(user_id)
        if access is None:
            raise unauthorized("the token's user is unknown or disabled")
        found = Principal(user_id=user_id, roles=access[0], teams=access[1], correlation_id=g.request_id)
        g.principal = found
    if roles and not found.has_role(*roles):
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", f"requires one of the roles: {', '.join(roles)}")
    return found


def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return ctx().rpc.call(principal(), service, method, *args, **kwargs)
