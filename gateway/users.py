"""The built-in user store: argon2-hashed passwords, roles, active flag."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, DateTime, Integer, LargeBinary, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from casekit.context import ALL_ROLES
from casekit.db import make_metadata, utcnow
from casekit.errors import Conflict, InvalidInput

_hasher = PasswordHasher()
# verified against when the user does not exist, so timing does not reveal it
_DUMMY_HASH = _hasher.hash("casework-dummy-password")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@\-]{1,63}$")
MIN_PASSWORD = 10


class Base(DeclarativeBase):
    metadata = make_metadata()


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # bumped by "revoke sessions": access tokens carry it as ``sv``; an older one is refused at once
    token_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class RefreshToken(Base):
    """One refresh token (stored as its SHA-256); a rotation marks it used, a replay revokes its family."""

    __tablename__ = "refresh_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    family: Mapped[str] = mapped_column(String(36), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Revocation(Base):
    """Tokens of an external (OIDC) subject issued at or before ``revoked_at`` are refused."""

    __tablename__ = "revocations"
    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An integration's key: ``cwk_<prefix>_<secret>``; only the secret's SHA-256 is stored."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    principal: Mapped[str] = mapped_column(String(300), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class RateLimitCounter(Base):
    """A counter of ``gateway.ratelimit``. The migration creates the table UNLOGGED (a crash may lose
    counts, never data); the model only declares its columns."""

    __tablename__ = "rate_limits"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    teams: list[str] | None = None,
) -> User:
    errors = []
    if not USERNAME.match(username or ""):
        errors.append({"field": "username", "message": "2-64 lowercase letters, digits, . _ @ -"})
    if len(password or "") < MIN_PASSWORD:
        errors.append({"field": "password", "message": f"at least {MIN_PASSWORD} characters"})
    bad = [r for r in roles if r not in ALL_ROLES]
    if bad or not roles:
        errors.append({"field": "roles", "message": f"choose from {', '.join(ALL_ROLES)}"})
    if errors:
        raise InvalidInput("invalid user", errors)
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username} exists")
    user = User(
        id=str(uuid.uuid4()),
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        roles=list(roles),
        teams=list(teams or []),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if not user.active:
        return None
    return user


def get_active(session: Session, user_id: str) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None
