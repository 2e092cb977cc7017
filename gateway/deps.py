"""What every route needs: the app context, the principal, role checks."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import ALL_ROLES, Principal
from casekit.db import transaction
from gateway.auth import (
    API_KEY_PREFIX,
    READ_METHODS,
    InvalidToken,
    aware,
    bearer_token,
    find_api_key,
    verify_token,
)
from gateway.clients import Rpc
from gateway.errors import HttpProblem
from gateway.settings import Settings
from gateway.users import Revocation, get_active

BEARER = [{"bearer": []}]
Access = tuple[tuple[str, ...], tuple[str, ...], int]


class UserCache:
    """Active users' roles, teams and token epoch.

    ``ttl`` 0 (the default) reads the user store on every request (one primary-key lookup), so a
    demotion, a disabled account or a revoked session takes effect at once on every worker.
    """

    def __init__(self, ttl: float = 0.0) -> None:
        self.ttl = ttl
        self.entries: dict[str, tuple[float, Access | None]] = {}
        self.lock = threading.Lock()

    def get(self, user_id: str) -> Access | None:
        now = time.monotonic()
        if self.ttl > 0:
            with self.lock:
                hit = self.entries.get(user_id)
            if hit is not None and hit[0] > now:
                return hit[1]
        with db() as session:
            user = get_active(session, user_id)
            value = (
                (tuple(user.roles or ()), tuple(user.teams or ()), user.token_epoch or 0) if user else None
            )
        if self.ttl > 0:
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
    extras: dict[str, Any] = field(default_factory=dict)


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


def _presented_credential() -> str:
    api_key = request.headers.get("X-API-Key")
    if api_key:
        return api_key.strip()
    return bearer_token(request.headers.get("Authorization"))


def _from_api_key(presented: str) -> Principal:
    with db() as session:
        key = find_api_key(session, presented)
        roles, teams, scopes = tuple(key.roles), tuple(key.teams), set(key.scopes)
        key_id = key.id
    if "write" not in scopes and request.method not in READ_METHODS:
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "the API key's scopes allow reads only")
    return Principal(user_id=f"apikey:{key_id}", roles=roles, teams=teams, correlation_id=g.request_id)


def _from_jwt(token: str) -> Principal:
    claims = verify_token(ctx().settings, token)
    issuer = claims.get("_issuer")
    if issuer is None:
        user_id = str(claims["sub"])
        access = ctx().users.get(user_id)
        if access is None:
            raise InvalidToken("the token's user is unknown or disabled")
        if claims.get("sv", 0) != access[2]:
            raise InvalidToken("the session was revoked")
        return Principal(user_id=user_id, roles=access[0], teams=access[1], correlation_id=g.request_id)
    user_id = f"{issuer.name}:{claims['sub']}"
    with db() as session:
        revoked = session.get(Revocation, user_id)
        if revoked is not None and claims["iat"] <= aware(revoked.revoked_at).timestamp():
            raise InvalidToken("the session was revoked")
    roles = tuple(r for r in _claim_list(claims.get(issuer.roles_claim)) if r in ALL_ROLES)
    teams = tuple(_claim_list(claims.get(issuer.teams_claim)))
    return Principal(user_id=user_id, roles=roles, teams=teams, correlation_id=g.request_id)


def _claim_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def authenticate() -> Principal:
    """The caller named by the request's credentials (cached on ``g``); 401 when there is none."""
    found = getattr(g, "principal", None)
    if found is None:
        try:
            credential = _presented_credential()
            if credential.startswith(API_KEY_PREFIX):
                found = _from_api_key(credential)
            else:
                found = _from_jwt(credential)
        except InvalidToken as exc:
            raise unauthorized(str(exc)) from None
        g.principal = found
    return found


def principal(*roles: str) -> Principal:
    """The authenticated caller; 401 without valid credentials, 403 without one of ``roles``."""
    found = authenticate()
    if not found.roles:
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "the caller holds no role")
    if roles and not found.has_role(*roles):
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", f"requires one of the roles: {', '.join(roles)}")
    return found


def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return ctx().rpc.call(principal(), service, method, *args, **kwargs)
