"""Tables owned by the cases service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from casekit.db import make_metadata, utcnow
from casekit.outbox import define_outbox_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox, processed_events = define_outbox_tables(Base.metadata)


def _stamp(**kwargs: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now(), **kwargs)


class CaseType(Base):
    __tablename__ = "case_types"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = _stamp()


class ReferenceCounter(Base):
    __tablename__ = "reference_counters"
    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    type_key: Mapped[str] = mapped_column(String(64), index=True)
    type_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    stage: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="web")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _stamp(index=True)
    updated_at: Mapped[datetime] = _stamp(onupdate=utcnow)
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    stage_entered_at: Mapped[datetime] = _stamp()
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(64))
    milestones: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )

    parties: Mapped[list[CaseParty]] = relationship(
        back_populates="case", lazy="selectin", order_by="CaseParty.created_at"
    )
    # loaded on first use: a case's snapshot needs them, a list page does not
    notes: Mapped[list[Note]] = relationship(order_by=lambda: [Note.created_at, Note.id])
    tasks: Mapped[list[Task]] = relationship(order_by=lambda: [Task.created_at, Task.id])
    relationships: Mapped[list[PartyRelationship]] = relationship(order_by="PartyRelationship.created_at")

    # the version moves exactly once per change (``logic.common.record_change`` sets it), however
    # many UPDATEs the change flushes; every UPDATE still checks the version it read
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Party(Base):
    __tablename__ = "parties"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200))
    emails: Mapped[list[str]] = mapped_column(JSONB, default=list)
    phones: Mapped[list[str]] = mapped_column(JSONB, default=list)
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _stamp()


class CaseParty(Base):
    __tablename__ = "case_parties"
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = _stamp()

    case: Mapped[Case] = relationship(back_populates="parties")
    party: Mapped[Party] = relationship(lazy="joined")


class PartyRelationship(Base):
    """``from_party`` is ``kind`` of ``to_party`` on this case (e.g. representative of)."""

    __tablename__ = "party_relationships"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    from_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    to_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = _stamp()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    author: Mapped[str | None] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    moved_from: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = _stamp()
    updated_at: Mapped[datetime] = _stamp()


class Task(Base):
    """A checklist item (from the stage's template), a discretionary task or an ad-hoc task."""

    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(128))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = _stamp()


class CaseLink(Base):
    """``case_id`` is ``kind`` ``target_id``: related, parent_of, duplicate_of, merged_into."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "target_id", "kind"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = _stamp()


class IntakeItem(Base):
    """An inbound item put on a case, found again by its provider id and its thread keys."""

    __tablename__ = "intake_items"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_intake_items_message_id", "message_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(998))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    created_case: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = _stamp()


class AuditEntry(Base):
    """Append-only, hash-chained per case. See ``audit.py`` for the hash rule."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[str | None] = mapped_column(String(128))
    actor_roles: Mapped[list[str]] = mapped_column(JSONB, default=list)
    action: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
