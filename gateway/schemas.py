"""HTTP request and response shapes (documented in the OpenAPI spec)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from casekit.contracts.cases import TYPE_KEY_PATTERN, CaseOut


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
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


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
