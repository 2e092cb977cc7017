"""Rate limits per user, per IP and for the token endpoints, with ``Retry-After``.

Counting uses the ``limits`` library's fixed-window strategy. Its storage is the gateway's
PostgreSQL database by default (an unlogged ``rate_limits`` table, one upsert per counter), so
every gunicorn worker and every gateway replica share the same counts; ``RATE_LIMIT_STORAGE`` may
name any ``limits`` storage URI instead (``memory://`` for a single process, ``redis://...``).
A failing storage lets requests through (logged): the limiter never takes the API down.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Response, request
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import problem

log = logging.getLogger(__name__)

AUTH_ENDPOINTS = {"auth.create_token", "auth.refresh_token"}
UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")


class PostgresStorage(Storage):
    """A ``limits`` storage on PostgreSQL: fixed-window counters that reset when they expire."""

    STORAGE_SCHEME = ["casework+postgresql"]

    def __init__(self, uri: str | None = None, engine: Engine | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.engine = engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    text(
                        "INSERT INTO rate_limits (key, count, expires_at) "
                        "VALUES (:key, :amount, now() + make_interval(secs => :expiry)) "
                        "ON CONFLICT (key) DO UPDATE SET "
                        "count = CASE WHEN rate_limits.expires_at <= now() THEN :amount "
                        "ELSE rate_limits.count + :amount END, "
                        "expires_at = CASE WHEN rate_limits.expires_at <= now() "
                        "THEN now() + make_interval(secs => :expiry) ELSE rate_limits.expires_at END "
                        "RETURNING count"
                    ),
                    {"key": key, "amount": amount, "expiry": expiry},
                ).scalar_one()
            )

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT count FROM rate_limits WHERE key = :key AND expires_at > now()"), {"key": key}
            ).scalar()
        return int(found or 0)

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT extract(epoch FROM expires_at) FROM rate_limits WHERE key = :key"), {"key": key}
            ).scalar()
        return float(found) if found is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(text("DELETE FROM rate_limits")).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_limits WHERE key = :key"), {"key": key})


class RateLimits:
    def __init__(self, settings: Any, engine: Engine | None) -> None:
        if settings.rate_limit_storage == "postgresql":
            storage: Storage = PostgresStorage(engine=engine)
        else:
            storage = storage_from_string(settings.rate_limit_storage)
        self.limiter = FixedWindowRateLimiter(storage)
        self.per_user: RateLimitItem = parse(settings.rate_limit_user)
        self.per_ip: RateLimitItem = parse(settings.rate_limit_ip)
        self.auth: RateLimitItem = parse(settings.rate_limit_auth)

    def check(self, user_id: str | None) -> Response | None:
        if request.path.startswith(UNLIMITED_PATHS) or request.method == "OPTIONS":
            return None
        ip = request.remote_addr or "unknown"
        checks = [(self.per_ip, "ip", ip)]
        if user_id:
            checks.append((self.per_user, "user", user_id))
        if request.endpoint in AUTH_ENDPOINTS:
            checks.append((self.auth, "auth", ip))
        try:
            for item, scope, who in checks:
                if not self.limiter.hit(item, scope, who):
                    reset_at = self.limiter.get_window_stats(item, scope, who).reset_time
                    wait = max(1, math.ceil(reset_at - time.time()))
                    return problem(
                        429,
                        "RATE_LIMITED",
                        "Too many requests",
                        f"the {scope} rate limit of {item} is used up; retry in {wait} s",
                        headers={
                            "Retry-After": str(wait),
                            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
                        },
                    )
        except Exception:  # noqa: BLE001 - never fail a request because the counters are away
            log.warning("rate limit storage failed; letting the request through", exc_info=True)
        return None
