"""HTTP models of the channels routes: messages from the case, notifications, templates."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class MessageIn(BaseModel):
    channel: Literal["email", "sms"] = "email"
    to: str | None = Field(default=None, max_length=320, description="default: the case's customer")
    template: str | None = Field(default=None, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    locale: str = Field(default="en", max_length=16)
    subject: str | None = Field(default=None, max_length=998)
    body: str | None = Field(default=None, max_length=100000)

    @model_validator(mode="after")
    def template_or_body(self) -> MessageIn:
        if not self.template and not self.body:
            raise ValueError("give a template or a body")
        return self


class DeliveryLogEntry(BaseModel):
    attempt: int
    started_at: str
    finished_at: str | None
    outcome: str
    detail: str | None


class MessageOut(BaseModel):
    id: str
    case_id: str | None
    channel: str
    to: str
    subject: str
    body: str
    message_id: str
    state: str = Field(description="queued, claimed, transmitting, sent, failed or uncertain")
    attempts: int
    last_error: str | None
    created_at: str | None
    sent_at: str | None
    delivery_log: list[DeliveryLogEntry] | None = None


class MessagePath(BaseModel):
    message_id: str = Field(max_length=64)


class ReadBody(BaseModel):
    ids: list[str] = Field(default_factory=list, max_length=500)
    all: bool = False


class InboxQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=200)
    unread_only: bool = False


class Preferences(BaseModel):
    channels: dict[str, list[Literal["in_app", "email"]]] = Field(
        default_factory=dict,
        description="per kind (case_queued, case_assigned, sla_warning, sla_breached, new_message, mention)",
    )
    email: str | None = Field(default=None, max_length=320)
    locale: str | None = Field(default=None, max_length=16)


class PreferencesOut(Preferences):
    user_id: str
    version: int = Field(description="their version, the ETag; 0 while the defaults apply")


class TemplatePath(BaseModel):
    event: str = Field(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    locale: str = Field(max_length=16, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")


class TemplateIn(BaseModel):
    subject: str = Field(default="", max_length=998)
    text: str = Field(max_length=100000)
    html: str | None = Field(default=None, max_length=200000)


class TemplateOut(TemplateIn):
    event: str
    locale: str
    source: str = Field(description="file or admin")
    updated_by: str | None = None
    version: int = Field(
        default=0,
        description="the version of the admin's template stored under this event and locale, the "
        "ETag; 0 while the file (or the en fallback) applies",
    )
