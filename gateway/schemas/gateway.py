"""HTTP models of the gateway's own resources: tokens, API keys, webhooks, operations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenPair(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200)


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str | None = Field(
        default=None, max_length=300, description="whose sessions to revoke (admins); default: the caller"
    )


class Revoked(BaseModel):
    user_id: str
    revoked: bool


Role = Literal["agent", "supervisor", "admin", "auditor"]
Scope = Literal["read", "write"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=4)
    teams: list[str] = Field(default_factory=list, max_length=20)
    scopes: list[Scope] = Field(default_factory=lambda: ["read"], min_length=1, max_length=2)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    roles: list[str]
    teams: list[str]
    scopes: list[str]
    created_by: str
    created_at: str
    revoked_at: str | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once: store it, only its hash is kept")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class ApiKeyPath(BaseModel):
    key_id: str = Field(max_length=36)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=500)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=8, max_length=2000, pattern=r"^https?://")
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown once: the HMAC-SHA256 key of the signatures")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class WebhookPath(BaseModel):
    webhook_id: str = Field(max_length=36)


class DeliveryPath(BaseModel):
    webhook_id: str = Field(max_length=36)
    delivery_id: str = Field(max_length=36)


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: str
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    created_at: str
    delivered_at: str | None = None
    next_attempt_at: str | None = None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class FolderOut(BaseModel):
    case: dict[str, Any]
    parties: list[Any] | None = None
    documents: list[Any] | None = None
    assignment: dict[str, Any] | None = None
    sla: list[Any] | None = None
    timeline: list[Any] | None = None
    panels: dict[str, Any] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
