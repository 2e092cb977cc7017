"""Agent profiles: skills, languages, capacity and availability, keyed by the gateway's user id."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casekit import preconditions
from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, require_authenticated
from casekit.contracts.validation import Contract, parse
from casekit.errors import PermissionDenied
from services.routing.logic.common import iso
from services.routing.models import Agent, WorkItem

AVAILABILITY = ("available", "away", "off")
DEFAULT_CAPACITY = 5
MAX_CAPACITY = 100000


class AgentIn(Contract):
    """Fields to set; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200)
    skills: list[str] | None = Field(default=None, max_length=50)
    languages: list[str] | None = Field(default=None, max_length=20)
    capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    availability: str | None = Field(default=None, pattern="^(available|away|off)$")

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for skill in value:
            if not skill or len(skill) > 64 or skill.startswith("lang:"):
                raise ValueError("a skill is 1 to 64 characters and not lang:* (use languages)")
        return sorted(set(value))

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for lang in value:
            if not (2 <= len(lang) <= 3 and lang.isalpha() and lang.islower()):
                raise ValueError(f"{lang!r} is not a language code (two or three lower-case letters)")
        return sorted(set(value))


def is_manager(principal: Principal) -> bool:
    return principal.has_role(ROLE_SUPERVISOR, ROLE_ADMIN)


def effective_skills(agent: Agent | None) -> list[str]:
    """What an agent can take: its skills plus ``lang:xx`` for each language it speaks."""
    if agent is None:
        return []
    return sorted(set(agent.skills or []) | {f"lang:{lang}" for lang in agent.languages or []})


def load_of(session: Session, user_id: str) -> int:
    return session.scalar(
        select(func.count()).where(WorkItem.assigned_to == user_id, WorkItem.status == "assigned")
    )


def agent_out(session: Session, user_id: str, agent: Agent | None) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "profile": agent is not None,
        "display_name": agent.display_name if agent else None,
        "skills": list(agent.skills or []) if agent else [],
        "languages": list(agent.languages or []) if agent else [],
        "capacity": agent.capacity if agent else DEFAULT_CAPACITY,
        "availability": agent.availability if agent else "available",
        "load": load_of(session, user_id),
        "updated_at": iso(agent.updated_at) if agent else None,
        "updated_by": agent.updated_by if agent else None,
        "version": agent.version if agent else 0,
    }


def get_agent(*, session: Session, principal: Principal, user_id: str) -> dict[str, Any]:
    require_authenticated(principal)
    if principal.user_id != user_id and not is_manager(principal):
        raise PermissionDenied("only supervisors see other agents' profiles")
    return agent_out(session, user_id, session.get(Agent, user_id))


def put_agent(
    *,
    session: Session,
    principal: Principal,
    user_id: str,
    body: Any,
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Supervisors and admins set anything; agents set only their own availability.

    ``precondition`` (If-Match / If-None-Match) is checked against the profile's version under
    its row lock; without a profile one is created from the defaults (version 1).
    """
    require_authenticated(principal)
    change = parse(AgentIn, body)
    given = change.model_dump(exclude_unset=True)
    if not is_manager(principal):
        if principal.user_id != user_id:
            raise PermissionDenied("only supervisors change other agents' profiles")
        if set(given) - {"availability"}:
            raise PermissionDenied("agents change only their own availability")
    what = f"profile of {user_id}"
    agent = preconditions.lock(session, Agent, user_id, precondition, what)
    created = agent is None
    if created:
        defaults = {"skills": [], "languages": [], "capacity": DEFAULT_CAPACITY, "availability": "available"}
        agent = preconditions.create(session, Agent, {"user_id": user_id, **defaults}, precondition, what)
    for key, value in given.items():
        if value is not None or key == "display_name":
            setattr(agent, key, value)
    agent.updated_by = principal.user_id
    preconditions.bump(agent, created)
    session.flush()
    return agent_out(session, user_id, agent)


def list_agents(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    require_authenticated(principal)
    if not is_manager(principal):
        raise PermissionDenied("only supervisors list agents")
    return [agent_out(session, a.user_id, a) for a in session.scalars(select(Agent).order_by(Agent.user_id))]
