"""Wire schemas of the cases service's RPC interface (shared with the gateway)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from casekit.contracts.validation import Contract


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


CASE_STATUSES = ("open", "closed")
TYPE_KEY_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"

PRIORITY_RANK = {Priority.low: 1, Priority.normal: 2, Priority.high: 3, Priority.urgent: 4}


class PartyIn(Contract):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()\-]{3,40}$")
    kind: str = Field(default="person", pattern="^(person|organisation)$")


class CaseCreate(Contract):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=64, pattern=TYPE_KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    priority: Priority = Priority.normal
    customer: PartyIn | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    channel: str = Field(default="web", max_length=32, pattern=r"^[a-z_]+$")


class PartyOut(BaseModel):
    id: str
    name: str
    kind: str
    role: str
    emails: list[str]
    phones: list[str]


class CaseOut(BaseModel):
    id: str
    reference: str
    type: str
    type_version: int
    title: str
    description: str
    priority: Priority
    status: str
    stage: str
    channel: str
    data: dict[str, Any]
    version: int
    created_by: str | None
    created_at: str
    updated_at: str
    parties: list[PartyOut] = Field(default_factory=list)
