"""HTTP request and response shapes (documented in the OpenAPI spec)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from casekit.contracts.cases import (
    TEAM_PATTERN,
    TYPE_KEY_PATTERN,
    CaseOut,
    LinkOut,
    NoteOut,
    PartyOut,
    TaskOut,
)
from casekit.contracts.validation import Contract


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class CasePath(BaseModel):
    case_id: str = Field(max_length=64)


class DocumentPath(BaseModel):
    document_id: str = Field(max_length=64)


class QueuePath(BaseModel):
    queue: str = Field(max_length=64)


class QueueMemberPath(BaseModel):
    queue: str = Field(max_length=64)
    user_id: str = Field(max_length=128)


class QueueMemberBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern="^(agent|supervisor)$")


class CaseListQuery(BaseModel):
    status: str | None = Field(default=None, pattern="^(open|closed)$")
    type: str | None = Field(default=None, max_length=64, pattern=TYPE_KEY_PATTERN)
    stage: str | None = Field(default=None, max_length=64, pattern=TYPE_KEY_PATTERN)
    priority: str | None = Field(default=None, pattern="^(low|normal|high|urgent)$")
    team: str | None = Field(default=None, max_length=64, pattern=TEAM_PATTERN)
    party_id: str | None = Field(default=None, max_length=36, description="cases this party is on")
    sort: str = Field(
        default="created",
        pattern="^-?(created|priority|due|age|updated)$",
        description="created (newest first, the default), priority (highest first), due (soonest "
        "first), age (oldest first), updated (latest first); a leading - reverses",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class IfMatchHeader(BaseModel):
    if_match: str | None = Field(
        default=None,
        alias="If-Match",
        max_length=64,
        description="the case's ETag (its version); required on every change: 428 without, 412 when stale",
    )


class VersionHeaders(BaseModel):
    """The preconditions of a change to a versioned resource (see ``casekit.preconditions``)."""

    if_match: str | None = Field(
        default=None,
        alias="If-Match",
        max_length=256,
        description='the ETag you read ("<version>"), or * for any stored version: required once the '
        'resource is stored (428 without), 412 when it changed meanwhile; "0" matches only while '
        "nothing is stored",
    )
    if_none_match: str | None = Field(
        default=None,
        alias="If-None-Match",
        max_length=256,
        description="* to create only: 412 when the resource is already stored",
    )


class NotePath(BaseModel):
    case_id: str = Field(max_length=64)
    note_id: str = Field(max_length=64)


class TaskPath(BaseModel):
    case_id: str = Field(max_length=64)
    task_id: str = Field(max_length=64)


class CaseTypePath(BaseModel):
    key: str = Field(max_length=64, pattern=TYPE_KEY_PATTERN)


class CaseTypeQuery(BaseModel):
    version: int | None = Field(default=None, ge=1)


class TimelineQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="the seq of the last item already seen")
    limit: int = Field(default=200, ge=1, le=500)


class PartyQuery(Contract):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class PartyFound(BaseModel):
    id: str
    name: str
    kind: str
    emails: list[str]
    phones: list[str]
    address: dict[str, Any] | None = None


class PartyList(BaseModel):
    items: list[PartyFound]


class CaseTypeBody(BaseModel):
    """A case type definition (see deploy/demo/complaint.yaml); validated by the cases service."""

    model_config = ConfigDict(extra="allow")


class CaseTypeOut(BaseModel):
    key: str
    version: int
    name: str
    prefix: str | None = None
    definition: dict[str, Any] | None = None


class CaseTypeList(BaseModel):
    items: list[CaseTypeOut]


class CaseTypeMigrationOut(BaseModel):
    type: str
    to_version: int
    dry_run: bool
    cases: list[dict[str, Any]] = Field(description="per open case: changes, and problems that block it")
    migrated: int
    blocked: int


class CaseChange(BaseModel):
    """The case after a change to something in its folder, and that thing."""

    case: CaseOut
    note: NoteOut | None = None
    task: TaskOut | None = None
    party: PartyOut | None = None
    link: LinkOut | None = None
    relationship: dict[str, Any] | None = None
    survivor: CaseOut | None = None
    merge: dict[str, Any] | None = None


class TimelineItem(BaseModel):
    seq: int
    at: str
    actor_id: str | None
    action: str
    detail: dict[str, Any]


class Timeline(BaseModel):
    items: list[TimelineItem]
    next_after: int | None


class IntakeResult(BaseModel):
    case_id: str
    reference: str | None
    created: bool
    duplicate: bool
    matched_by: str | None = Field(description="reference, thread or sender; null for a new case")
    version: int | None = None


class LimitQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=200)
    unread_only: bool = False


class UploadQuery(BaseModel):
    filename: str | None = Field(default=None, max_length=1024)
    kind: str = Field(default="other", max_length=32)
    channel: str = Field(default="web", max_length=32)


class IdempotencyHeader(BaseModel):
    idempotency_key: str | None = Field(default=None, alias="Idempotency-Key", max_length=255)


class CaseCreated(CaseOut):
    created: bool


class CaseList(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class DocumentOut(BaseModel):
    id: str
    case_id: str
    filename: str
    media_type: str
    declared_type: str | None
    kind: str
    channel: str
    size: int
    sha256: str
    uploaded_by: str | None
    text_status: str
    created_at: str | None


class WorkItemOut(BaseModel):
    case_id: str
    queue: str
    reference: str
    title: str
    priority: int
    status: str
    assigned_to: str | None
    case_version: int
    queued_at: str | None


class CaseFolder(CaseOut):
    documents: list[DocumentOut] | None
    work_item: WorkItemOut | None
    missing: list[str] = Field(description="parts of the folder that could not be fetched in time")


class NotificationOut(BaseModel):
    id: str
    case_id: str | None
    kind: str
    title: str
    body: str
    created_at: str
    read: bool


class Inbox(BaseModel):
    items: list[NotificationOut]
    unread: int


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str | None
    head: str | None = None


class Problem(BaseModel):
    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, str]] | None = None
    request_id: str | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
