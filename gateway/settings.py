"""Gateway settings from the environment, validated at start.

Outside development mode a missing or weak JWT secret stops the gateway: a
secret never has a working default in production.
"""

from __future__ import annotations

import json
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


ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


@dataclass(frozen=True)
class OidcIssuer:
    """An external identity provider whose access tokens the gateway accepts.

    ``algorithms`` are pinned (asymmetric only: an HMAC algorithm would let anyone holding the
    public key sign); principals are ``<name>:<sub>``; roles and teams come from the named claims.
    """

    issuer: str
    jwks_url: str
    audience: str
    name: str = "oidc"
    algorithms: tuple[str, ...] = ("RS256",)
    roles_claim: str = "roles"
    teams_claim: str = "teams"

    @classmethod
    def parse(cls, raw: dict) -> OidcIssuer:
        try:
            issuer = cls(
                issuer=str(raw["issuer"]),
                jwks_url=str(raw["jwks_url"]),
                audience=str(raw["audience"]),
                name=str(raw.get("name", "oidc")),
                algorithms=tuple(raw.get("algorithms", ["RS256"])),
                roles_claim=str(raw.get("roles_claim", "roles")),
                teams_claim=str(raw.get("teams_claim", "teams")),
            )
        except (KeyError, TypeError) as exc:
            raise SettingsError(
                f"OIDC_ISSUERS: each issuer needs issuer, jwks_url, audience ({exc})"
            ) from None
        if not issuer.algorithms or not set(issuer.algorithms) <= ASYMMETRIC:
            raise SettingsError(f"OIDC_ISSUERS: algorithms must be asymmetric, got {issuer.algorithms}")
        return issuer


def _oidc_issuers() -> tuple[OidcIssuer, ...]:
    raw = os.environ.get("OIDC_ISSUERS", "[]").strip() or "[]"
    try:
        items = json.loads(raw)
    except ValueError:
        raise SettingsError("OIDC_ISSUERS must be a JSON list of issuers") from None
    if not isinstance(items, list):
        raise SettingsError("OIDC_ISSUERS must be a JSON list of issuers")
    return tuple(OidcIssuer.parse(item) for item in items)


def _optional(name: str, default: str = "none") -> str:
    """An optional setting; ``none`` (the default) means unset."""
    value = os.environ.get(name, default).strip()
    return "" if value.lower() == "none" else value


def _list(name: str, default: str = "none") -> tuple[str, ...]:
    return tuple(v.strip() for v in _optional(name, default).split(",") if v.strip())


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
    refresh_token_ttl: int = 14 * 24 * 3600
    oidc_issuers: tuple[OidcIssuer, ...] = ()
    idempotency_ttl: int = 24 * 3600
    # "postgresql" (the gateway's database: shared by every worker and replica) or a limits URI
    rate_limit_storage: str = "postgresql"
    rate_limit_user: str = "1200/minute"
    rate_limit_ip: str = "3000/minute"
    rate_limit_auth: str = "30/minute"
    cors_origins: tuple[str, ...] = ()
    folder_budget: float = 3.0
    panels_file: str = ""

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
            refresh_token_ttl=_int("REFRESH_TOKEN_TTL", cls.refresh_token_ttl),
            oidc_issuers=_oidc_issuers(),
            idempotency_ttl=max(_int("IDEMPOTENCY_TTL", cls.idempotency_ttl), 24 * 3600),
            rate_limit_storage=os.environ.get("RATE_LIMIT_STORAGE", cls.rate_limit_storage),
            rate_limit_user=os.environ.get("RATE_LIMIT_USER", cls.rate_limit_user),
            rate_limit_ip=os.environ.get("RATE_LIMIT_IP", cls.rate_limit_ip),
            rate_limit_auth=os.environ.get("RATE_LIMIT_AUTH", cls.rate_limit_auth),
            cors_origins=_list("CORS_ORIGINS", "none"),
            folder_budget=float(_number("FOLDER_BUDGET", cls.folder_budget, float)),
            panels_file=_optional("PANELS_FILE", "none"),
        )
