"""Tables owned by the routing service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Interval,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import FetchedValue

from casekit.db import make_metadata, utcnow
from casekit.outbox import define_outbox_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox, processed_events = define_outbox_tables(Base.metadata)


class WorkQueue(Base):
    __tablename__ = "queues"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class QueueMember(Base):
    __tablename__ = "queue_members"
    queue: Mapped[str] = mapped_column(ForeignKey("queues.name"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


class WorkItem(Base):
    __tablename__ = "work_items"
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    queue: Mapped[str] = mapped_column(ForeignKey("queues.name"), index=True)
    reference: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    assigned_to: Mapped[str | None] = mapped_column(String(128), index=True)
    case_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )
    # --- routing (R1): routing-relevant case data, so views filter without asking cases ---
    case_type: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    case_status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    case_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    parties: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    case_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # priority (above) is the effective rank: max(base + boost, escalated), capped at urgent (4)
    base_priority: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    priority_boost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    required_skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'::varchar[]")
    )
    rule: Mapped[str | None] = mapped_column(String(64))
    rule_set_version: Mapped[int | None] = mapped_column(Integer)
    # nearest running SLA deadline (set by the SLA clocks); feeds the score
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_via: Mapped[str | None] = mapped_column(String(16))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # time-invariant ordering key, kept by a trigger from priority, due_at and queued_at
    rank: Mapped[float] = mapped_column(Float, server_default="0", server_onupdate=FetchedValue())

    __table_args__ = (
        Index("ix_work_items_queue_rank", "queue", "status", text("rank DESC"), text("case_id DESC")),
        Index("ix_work_items_assignee_rank", "assigned_to", text("rank DESC"), text("case_id DESC")),
        Index(
            "ix_work_items_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'assigned' AND lease_expires_at IS NOT NULL"),
        ),
    )


class Agent(Base):
    """A staff member's routing profile, keyed by the gateway's user id."""

    __tablename__ = "agents"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'::varchar[]")
    )
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), default=list, server_default=text("'{}'::varchar[]")
    )
    capacity: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    availability: Mapped[str] = mapped_column(String(16), default="available", server_default="available")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )
    updated_by: Mapped[str | None] = mapped_column(String(128))
    # 1 when first stored, one more per change: the ETag (casekit.preconditions)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class RuleSet(Base):
    """One version of the ordered routing rule set; the highest version is in force."""

    __tablename__ = "rule_sets"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class RoutingDecision(Base):
    """Why a case went where it went: every rule evaluation that placed, moved or kept it."""

    __tablename__ = "routing_decisions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    case_version: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(64))
    rule_set_version: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    previous_queue: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    explain: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class Assignment(Base):
    """Assignment history: who got a case, from whom, by whom, when and why."""

    __tablename__ = "assignment_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(128))
    previous_assignee: Mapped[str | None] = mapped_column(String(128))
    by: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


# --- end of routing (R1) tables ---


# --- SLA clocks and business calendars (services/routing/logic/sla*.py, calendars.py) ------------


class SlaCalendar(Base):
    """A business calendar by name (``calendars.parse_calendar`` validates ``definition``)."""

    __tablename__ = "sla_calendars"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )


class SlaPolicy(Base):
    """Which clocks a case type runs (``"*"``: every type without its own policy)."""

    __tablename__ = "sla_policies"
    case_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )


class SlaCase(Base):
    """What the clocks know of a case: the newest snapshot applied, and whether it is paused."""

    __tablename__ = "sla_cases"
    __table_args__ = (Index("ix_sla_cases_due_pending", "updated_at", postgresql_where=text("due_pending")),)
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_type: Mapped[str] = mapped_column(String(64))
    case_version: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    paused_by: Mapped[str | None] = mapped_column(String(200))  # why the case's clocks are paused
    # the work item did not exist yet when the clocks changed: the timer copies due_at over later
    due_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )


class SlaClock(Base):
    """One run of one named clock on one case; ``next_fire_at`` is what the timer looks for."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("case_id", "name", "cycle", name="uq_sla_clocks_case_name_cycle"),
        Index("ix_sla_clocks_next_fire", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
        Index("ix_sla_clocks_running_due", "due_at", postgresql_where=text("state = 'running'")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(80))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    calendar: Mapped[str] = mapped_column(String(64))
    target: Mapped[timedelta] = mapped_column(Interval)
    state: Mapped[str] = mapped_column(String(16))  # running, paused, stopped
    elapsed: Mapped[timedelta] = mapped_column(Interval)  # business time before segment_started_at
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    segment_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the last transition
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    thresholds: Mapped[list] = mapped_column(JSONB)  # fractions of the target, 1.0 = breach
    fired: Mapped[list] = mapped_column(JSONB, default=list)
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met: Mapped[bool | None] = mapped_column(Boolean)
    spec: Mapped[dict] = mapped_column(JSONB)  # the policy's clock, as it was when it started


class SlaHistory(Base):
    """Every change of every clock, in order: the story ``case_clocks`` tells."""

    __tablename__ = "sla_history"
    __table_args__ = (
        Index(
            "uq_sla_history_fired",
            "clock_id",
            "kind",
            "threshold",
            unique=True,
            postgresql_where=text("kind IN ('warned', 'breached')"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    clock_id: Mapped[str] = mapped_column(ForeignKey("sla_clocks.id"), index=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
