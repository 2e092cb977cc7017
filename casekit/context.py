"""Context data that travels with every RPC and event, and the Principal read from it.

The gateway sets these keys from the verified token; services read them and never
trust a user id passed as an ordinary argument.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from nameko.extensions import DependencyProvider

from casekit.errors import PermissionDenied

USER_ID = "user_id"
ROLES = "roles"
TEAMS = "teams"
CORRELATION_ID = "correlation_id"
TRACEPARENT = "traceparent"

ROLE_AGENT = "agent"
ROLE_SUPERVISOR = "supervisor"
ROLE_ADMIN = "admin"
ROLE_AUDITOR = "auditor"
ROLE_SYSTEM = "system"
ALL_ROLES = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN, ROLE_AUDITOR)


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def authenticated(self) -> bool:
        return bool(self.user_id)

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def actor(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "roles": list(self.roles)}

    def context_data(self) -> dict[str, Any]:
        return {
            USER_ID: self.user_id,
            ROLES: ",".join(self.roles),
            TEAMS: ",".join(self.teams),
            CORRELATION_ID: self.correlation_id,
        }

    @classmethod
    def from_context(cls, data: dict[str, Any]) -> Principal:
        return cls(
            user_id=data.get(USER_ID) or None,
            roles=_as_list(data.get(ROLES)),
            teams=_as_list(data.get(TEAMS)),
            correlation_id=data.get(CORRELATION_ID) or str(uuid.uuid4()),
        )

    @classmethod
    def system(cls, name: str, correlation_id: str | None = None) -> Principal:
        return cls(
            user_id=f"system:{name}",
            roles=(ROLE_SYSTEM,),
            correlation_id=correlation_id or str(uuid.uuid4()),
        )


def require_authenticated(principal: Principal) -> None:
    """Deny anyone without an identity and at least one role."""
    if not principal.authenticated or not principal.roles:
        raise PermissionDenied("authentication required")


def require_roles(principal: Principal, *roles: str, action: str = "do this") -> None:
    """Deny a caller who holds none of ``roles``."""
    require_authenticated(principal)
    if not principal.has_role(*roles):
        raise PermissionDenied(f"your role may not {action}")


class PrincipalProvider(DependencyProvider):
    """Injects the calling Principal, read from the worker's context data."""

    def get_dependency(self, worker_ctx: Any) -> Principal:
        return Principal.from_context(worker_ctx.data)
