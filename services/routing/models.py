"""Tables owned by the routing service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
