"""Access tokens (RFC 8725 rules) and the request's Principal.

One algorithm (HS256) is pinned; ``iss``, ``aud``, ``exp``, ``iat`` and ``sub`` are
required; the header's ``typ`` must be ``at+jwt``. The token carries identity
only: roles and the active flag are read from the user store on every request, so
a demoted or disabled user loses access at once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from gateway.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"
MAX_TOKEN_BYTES = 4096
LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged or expired."""


def issue_token(settings: Settings, *, user_id: str, roles: list[str]) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + settings.access_token_ttl,
        "jti": str(uuid.uuid4()),
        "roles": roles,
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})
    return {"access_token": token, "token_type": "Bearer", "expires_in": settings.access_token_ttl}


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidToken("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("authorization must be 'Bearer <token>'")
    token = token.strip()
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    return token


def verify_token(settings: Settings, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unexpected signing algorithm")
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("not an access token")
    if any(k in header for k in ("jku", "x5u", "jwk")):
        raise InvalidToken("key references in the header are not accepted")
    try:
        return jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
