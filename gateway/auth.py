"""Access tokens (RFC 8725 rules), refresh tokens, API keys.

Two kinds of issuer are accepted. The built-in one signs HS256 (pinned) access tokens with
``typ: at+jwt``; each OIDC issuer configured in ``OIDC_ISSUERS`` has its own pinned asymmetric
algorithms and its keys come from its JWKS URL (``gateway.oidc``). For every token ``iss``,
``aud``, ``exp``, ``nbf``, ``iat`` and ``sub`` are required, key references in the header
(``jku``, ``x5u``, ``jwk``, ``x5c``) are refused, and the unverified ``iss`` only chooses which
issuer's rules and keys apply. The token carries identity only: built-in users' roles and the
active flag are read from the user store on every request, and a session revocation bumps the
user's ``token_epoch`` (``sv`` in the token), so revoked tokens stop working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casekit.db import utcnow
from gateway.oidc import UnknownKey, keys_for
from gateway.settings import OidcIssuer, Settings
from gateway.users import ApiKey, RefreshToken, User

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"
OIDC_TYPES = {TOKEN_TYPE, "JWT", None}
MAX_TOKEN_BYTES = 4096
LEEWAY_SECONDS = 30
REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub"]
KEY_REFERENCES = ("jku", "x5u", "jwk", "x5c")
API_KEY_PREFIX = "cwk_"


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged, expired or revoked."""


def issue_token(settings: Settings, *, user_id: str, roles: list[str], epoch: int = 0) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + settings.access_token_ttl,
        "jti": str(uuid.uuid4()),
        "sv": epoch,
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


def _issuer_of(token: str) -> Any:
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    return payload.get("iss") if isinstance(payload, dict) else None


def verify_token(settings: Settings, token: str) -> dict[str, Any]:
    """The verified claims; ``_issuer`` names the OidcIssuer (None for the built-in issuer)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if any(k in header for k in KEY_REFERENCES):
        raise InvalidToken("key references in the header are not accepted")
    issuer_name = _issuer_of(token)
    if issuer_name == settings.jwt_issuer:
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected signing algorithm")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("not an access token")
        claims = _decode(token, settings.jwt_secret, [ALGORITHM], settings.jwt_audience, settings.jwt_issuer)
        claims["_issuer"] = None
        return claims
    issuer = next((i for i in settings.oidc_issuers if i.issuer == issuer_name), None)
    if issuer is None:
        raise InvalidToken("unknown issuer")
    return _verify_oidc(issuer, header, token)


def _verify_oidc(issuer: OidcIssuer, header: dict[str, Any], token: str) -> dict[str, Any]:
    if header.get("alg") not in issuer.algorithms:
        raise InvalidToken("unexpected signing algorithm")
    if header.get("typ") not in OIDC_TYPES:
        raise InvalidToken("not an access token")
    try:
        key = keys_for(issuer.jwks_url).key_for(header.get("kid"))
    except UnknownKey as exc:
        raise InvalidToken(str(exc)) from None
    claims = _decode(token, key, list(issuer.algorithms), issuer.audience, issuer.issuer)
    claims["_issuer"] = issuer
    return claims


def _decode(token: str, key: Any, algorithms: list[str], audience: str, issuer: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None


# ---- refresh tokens -------------------------------------------------------------------------


def aware(moment: datetime) -> datetime:
    """A stored timestamp as UTC-aware (SQLite, used by unit tests, drops the zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_refresh(session: Session, settings: Settings, user: User, family: str | None = None) -> str:
    secret = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            id=str(uuid.uuid4()),
            token_hash=_digest(secret),
            user_id=user.id,
            family=family or str(uuid.uuid4()),
            epoch=user.token_epoch or 0,
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    session.flush()
    return secret


def token_pair(session: Session, settings: Settings, user: User, family: str | None = None) -> dict[str, Any]:
    pair = issue_token(settings, user_id=user.id, roles=list(user.roles), epoch=user.token_epoch or 0)
    pair["refresh_token"] = issue_refresh(session, settings, user, family)
    pair["refresh_expires_in"] = settings.refresh_token_ttl
    return pair


def rotate_refresh(session: Session, settings: Settings, secret: str) -> dict[str, Any]:
    """A new pair for a valid refresh token, which is used up. Presenting a used one again (a
    stolen copy) revokes its whole family."""
    row = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(secret)).with_for_update()
    ).first()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= utcnow():
        raise InvalidToken("the refresh token is unknown, expired or revoked")
    if row.used_at is not None:
        session.execute(
            update(RefreshToken).where(RefreshToken.family == row.family).values(revoked_at=utcnow())
        )
        session.commit()  # the revocation stands although the request fails
        raise InvalidToken("the refresh token was already used; its session is revoked")
    user = session.get(User, row.user_id)
    if user is None or not user.active or (user.token_epoch or 0) != row.epoch:
        raise InvalidToken("the refresh token's session is revoked")
    row.used_at = utcnow()
    return token_pair(session, settings, user, family=row.family)


def revoke_user_sessions(session: Session, user: User) -> None:
    user.token_epoch = (user.token_epoch or 0) + 1
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# ---- API keys -------------------------------------------------------------------------------

SCOPES = ("read", "write")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def new_api_key(
    session: Session, *, name: str, roles: list[str], teams: list[str], scopes: list[str], created_by: str
) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        prefix=prefix,
        secret_hash=_digest(secret),
        name=name,
        roles=list(roles),
        teams=list(teams),
        scopes=list(scopes),
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, f"{API_KEY_PREFIX}{prefix}_{secret}"


def find_api_key(session: Session, presented: str) -> ApiKey:
    body = presented[len(API_KEY_PREFIX) :] if presented.startswith(API_KEY_PREFIX) else ""
    prefix, _, secret = body.partition("_")
    if not prefix or not secret:
        raise InvalidToken("malformed API key")
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    expected = key.secret_hash if key is not None else _digest("no-such-key")
    if not hmac.compare_digest(expected, _digest(secret)) or key is None:
        raise InvalidToken("unknown API key")
    if key.revoked_at is not None:
        raise InvalidToken("the API key is revoked")
    return key
