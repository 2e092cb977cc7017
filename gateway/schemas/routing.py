"""HTTP models of routing: queues, scored queue views, claims, assignment, rules, agents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueNamePath(BaseModel):
    queue: str = Field(max_length=64)


class QueueItemPath(BaseModel):
    queue: str = Field(max_length=64)
    case_id: str = Field(max_length=64)


class AgentPath(BaseModel):
    user_id: str = Field(max_length=128)


class CaseIdPath(BaseModel):
    case_id: str = Field(max_length=64)


class ViewQuery(BaseModel):
    """Filters of a queue view; results come best score first, ``cursor`` continues a page."""

    status: str = Field(default="queued", pattern="^(queued|assigned|open)$")
    assignee: str | None = Field(default=None, max_length=128)
    priority: str | None = Field(default=None, pattern="^(low|normal|high|urgent)$")
    case_type: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=32)
    skill: str | None = Field(default=None, max_length=64)
    overdue: bool | None = None
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=200)


class MyWorkQuery(BaseModel):
    priority: str | None = Field(default=None, pattern="^(low|normal|high|urgent)$")
    case_type: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=200)


class ScoreTerm(BaseModel):
    term: str
    points: float
    why: str
    due_at: str | None = None


class Score(BaseModel):
    score: float
    components: list[ScoreTerm]


class RoutedItem(BaseModel):
    case_id: str
    queue: str
    reference: str
    title: str
    priority: int
    priority_name: str
    status: str
    assigned_to: str | None
    assigned_via: str | None
    assigned_at: str | None
    lease_expires_at: str | None
    case_version: int
    queued_at: str | None
    case_type: str | None
    stage: str | None
    team: str | None
    channel: str | None
    required_skills: list[str]
    rule: str | None
    due_at: str | None


class ScoredItem(RoutedItem):
    score: Score


class ScoredPage(BaseModel):
    items: list[ScoredItem]
    next_cursor: str | None
    scored_at: str


class ClaimBody(Strict):
    queue: str | None = Field(
        default=None, max_length=64, description="default: every queue you are a member of"
    )
    lease_seconds: int | None = Field(
        default=None, ge=1, le=28800, description="default: ROUTING_LEASE_SECONDS"
    )


class RenewBody(Strict):
    lease_seconds: int | None = Field(default=None, ge=1, le=28800)


class AssignBody(Strict):
    assignee: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    force: bool = Field(default=False, description="assign beyond capacity or to someone who is off")


class ReleaseQuery(BaseModel):
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class BulkBody(Strict):
    case_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    from_assignee: str | None = Field(default=None, max_length=128)
    queue: str | None = Field(default=None, max_length=64, description="only cases in this queue")
    to_queue: str | None = Field(default=None, pattern=NAME)
    assignees: list[str] | None = Field(
        default=None, min_length=1, max_length=200, description="dealt out in turn, in case id order"
    )
    unassign: bool = False
    force: bool = False
    reason: str = Field(min_length=1, max_length=2000)


class BulkResult(BaseModel):
    matched: int
    changed: int
    items: list[dict[str, Any]]


class ReapplyBody(Strict):
    dry_run: bool = Field(default=False, description="list what would move; change nothing")
    after: str | None = Field(default=None, max_length=36, description="``next_after`` of the previous call")


class ReapplyMove(BaseModel):
    case_id: str
    reference: str
    from_: str = Field(alias="from")
    to: str
    rule: str | None


class ReapplyResult(BaseModel):
    rule_set_version: int | None
    dry_run: bool
    examined: int = Field(description="waiting cases routed by an older rule set, looked at in this call")
    unchanged: int = Field(description="the rules in force keep them where they are")
    kept_manual: int = Field(description="moved by a person or an SLA action: left where they were put")
    moved: list[ReapplyMove]
    next_after: str | None = Field(description="more to examine: call again with this as ``after``")


class QueueBody(Strict):
    title: str = Field(min_length=1, max_length=200)


class QueueMemberOut(BaseModel):
    user_id: str
    role: str


class QueueOut(BaseModel):
    name: str
    title: str
    queued: int
    assigned: int
    members: list[QueueMemberOut]


class AgentBody(Strict):
    display_name: str | None = Field(default=None, max_length=200)
    skills: list[str] | None = Field(default=None, max_length=50)
    languages: list[str] | None = Field(default=None, max_length=20)
    capacity: int | None = Field(default=None, ge=0, le=100000)
    availability: str | None = Field(default=None, pattern="^(available|away|off)$")


class AgentOut(BaseModel):
    user_id: str
    profile: bool
    display_name: str | None
    skills: list[str]
    languages: list[str]
    capacity: int
    availability: str
    load: int
    updated_at: str | None
    updated_by: str | None
    version: int = Field(description="the profile's version, its ETag; 0 while the defaults apply")


class RulesQuery(BaseModel):
    version: int | None = Field(default=None, ge=1)


class RulesOut(BaseModel):
    version: int | None
    created_at: str | None
    created_by: str | None
    default_queue: str
    queues: list[dict[str, Any]]
    rules: list[dict[str, Any]]
