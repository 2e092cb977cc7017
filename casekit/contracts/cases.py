"""Wire schemas of the cases service's RPC interface (shared with the gateway)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from casekit.contracts.validation import Contract


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


CASE_STATUSES = ("open", "closed")
TYPE_KEY_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
LINK_KINDS = ("related", "parent_of", "child_of", "duplicate_of")
NOTE_VISIBILITIES = ("internal", "customer")
CASE_SORTS = ("priority", "due", "age", "updated")

PRIORITY_RANK = {Priority.low: 1, Priority.normal: 2, Priority.high: 3, Priority.urgent: 4}

_ID = Field(min_length=1, max_length=64)
_REASON = Field(default=None, min_length=1, max_length=2000)


class Strict(Contract):
    model_config = ConfigDict(extra="forbid")


class Address(Strict):
    lines: list[str] = Field(default_factory=list, max_length=6)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2, pattern=r"^[A-Z]{2}$")


class PartyIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()\-]{3,40}$")
    kind: str = Field(default="person", pattern="^(person|organisation)$")
    address: Address | None = None


class CaseCreate(Strict):
    type: str = Field(min_length=1, max_length=64, pattern=TYPE_KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    priority: Priority = Priority.normal
    customer: PartyIn | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    channel: str = Field(default="web", max_length=32, pattern=r"^[a-z_]+$")
    team: str | None = Field(default=None, pattern=TEAM_PATTERN)
    restricted: bool = False


class CaseUpdate(Strict):
    """Fields to change; ``data`` replaces the custom data as a whole and is validated."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    priority: Priority | None = None
    data: dict[str, Any] | None = None
    team: str | None = Field(default=None, pattern=TEAM_PATTERN)
    restricted: bool | None = None


class TransitionIn(Strict):
    to: str = Field(min_length=1, max_length=64, pattern=TYPE_KEY_PATTERN)
    reason: str | None = _REASON


class CloseIn(Strict):
    resolution: str = Field(min_length=1, max_length=64)
    reason: str | None = _REASON


class ReopenIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(Strict):
    body: str = Field(min_length=1, max_length=50000)
    visibility: str = Field(default="internal", pattern="^(internal|customer)$")


class NoteEdit(Strict):
    body: str | None = Field(default=None, min_length=1, max_length=50000)
    visibility: str | None = Field(default=None, pattern="^(internal|customer)$")


class PartyAdd(Strict):
    """Put a party on a case with a role: an existing one by id, or described (reused by email)."""

    role: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    party_id: str | None = Field(default=None, max_length=36)
    party: PartyIn | None = None

    @model_validator(mode="after")
    def _one_party(self) -> PartyAdd:
        if (self.party_id is None) == (self.party is None):
            raise ValueError("give exactly one of party_id and party")
        return self


class RelationshipIn(Strict):
    from_party_id: str = _ID
    to_party_id: str = _ID
    kind: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")


class LinkIn(Strict):
    target_id: str = _ID
    kind: str = Field(pattern="^(related|parent_of|child_of|duplicate_of)$")


class MergeIn(Strict):
    into: str = _ID
    reason: str | None = _REASON


class TaskIn(Strict):
    """A discretionary task by its ``key`` in the type's menu, or an ad-hoc task by ``title``."""

    key: str | None = Field(default=None, max_length=64, pattern=TYPE_KEY_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    assignee: str | None = Field(default=None, max_length=128)
    due_at: datetime | None = None

    @model_validator(mode="after")
    def _key_or_title(self) -> TaskIn:
        if self.key is None and self.title is None:
            raise ValueError("give key (a task from the menu) or title (an ad-hoc task)")
        return self


class TaskEdit(Strict):
    assignee: str | None = Field(default=None, max_length=128)
    due_at: datetime | None = None
    done: bool | None = None


class ThreadKeys(Strict):
    message_id: str | None = Field(default=None, max_length=998)
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: list[str] = Field(default_factory=list, max_length=100)


class Attachment(Strict):
    document_id: str = _ID
    filename: str | None = Field(default=None, max_length=1024)


class IntakeIn(Strict):
    """One inbound item as a channel adapter normalised it."""

    channel: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    provider_id: str = Field(min_length=1, max_length=255)
    sender: PartyIn
    subject: str = Field(default="", max_length=998)
    body: str = Field(default="", max_length=200000)
    thread: ThreadKeys = Field(default_factory=ThreadKeys)
    received_at: datetime | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=100)


class TypeMigrationIn(Strict):
    to_version: int | None = Field(default=None, ge=1)
    dry_run: bool = True
    stage_map: dict[str, str] = Field(default_factory=dict)


# --- outputs (documented in the OpenAPI spec) -------------------------------------------------


class PartyOut(BaseModel):
    id: str
    name: str
    kind: str
    role: str
    emails: list[str]
    phones: list[str]
    address: dict[str, Any] | None = None


class RelationshipOut(BaseModel):
    id: str
    from_party_id: str
    to_party_id: str
    kind: str


class NoteOut(BaseModel):
    id: str
    body: str
    visibility: str
    author: str | None
    revision: int
    created_at: str
    updated_at: str
    moved_from: str | None = None
    history: list[dict[str, Any]] | None = None


class TaskOut(BaseModel):
    id: str
    kind: str = Field(description="checklist, discretionary or adhoc")
    key: str | None
    title: str
    stage: str | None
    required: bool
    assignee: str | None
    due_at: str | None
    done_at: str | None
    done_by: str | None
    created_at: str


class LinkOut(BaseModel):
    id: str
    kind: str = Field(
        description="from this case's side: related, parent_of, child_of, duplicate_of, "
        "duplicated_by, merged_into, merged_from"
    )
    case_id: str


class SlaOut(BaseModel):
    priority: str
    stage: str
    target_hours: float


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
    team: str | None = None
    restricted: bool = False
    stage_entered_at: str | None = None
    due_at: str | None = None
    closed_at: str | None = None
    resolution: str | None = None
    retention_days: int | None = None
    sla: SlaOut | None = None
    milestones: dict[str, str] = Field(default_factory=dict)
    parties: list[PartyOut] = Field(default_factory=list)
    relationships: list[RelationshipOut] = Field(default_factory=list)
    links: list[LinkOut] = Field(default_factory=list)
    notes: list[NoteOut] = Field(default_factory=list)
    tasks: list[TaskOut] = Field(default_factory=list)
