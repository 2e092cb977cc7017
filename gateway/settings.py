"""Gateway settings from the environment, validated at start.

Outside development mode a missing or weak JWT secret stops the gateway: a
secret never has a working default in production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEV_SECRET = "casework-development-secret-do-not-use-in-production"


class SettingsError(RuntimeError):
    pass


def _number(name: str, default: float, kind: type = int) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _int(name: str, default: int) -> int:
    return int(_number(name, default, int))


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    db_url: str = "postgresql+psycopg2://casework:casework@127.0.0.1:5432/casework_gateway"
    amqp_uri: str = "pyamqp://guest:guest@127.0.0.1:5672/"
    jwt_secret: str = DEV_SECRET
    jwt_issuer: str = "casework"
    jwt_audience: str = "casework-api"
    access_token_ttl: int = 900
    rpc_timeout: float = 10.0
    max_json_bytes: int = 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    upload_part_bytes: int = 1024 * 1024
    service_names: tuple[str, ...] = field(
        default=("cases", "documents", "routing", "notifications", "search")
    )

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get("CASEWORK_ENV", "development")
        secret = os.environ.get("JWT_SECRET", "")
        if not secret:
            if env != "development":
                raise SettingsError("JWT_SECRET is required outside development mode")
            secret = DEV_SECRET
        if env != "development" and (len(secret) < 32 or secret == DEV_SECRET):
            raise SettingsError("JWT_SECRET must be at least 32 random characters")
        return cls(
            env=env,
            db_url=os.environ.get("GATEWAY_DB_URL", cls.db_url),
            amqp_uri=os.environ.get("AMQP_URI", cls.amqp_uri),
            jwt_secret=secret,
            jwt_issuer=os.environ.get("JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=os.environ.get("JWT_AUDIENCE", cls.jwt_audience),
            access_token_ttl=_int("ACCESS_TOKEN_TTL", cls.access_token_ttl),
            rpc_timeout=float(_number("RPC_TIMEOUT", cls.rpc_timeout, float)),
            max_json_bytes=_int("MAX_JSON_BYTES", cls.max_json_bytes),
            max_upload_bytes=_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes),
        )
