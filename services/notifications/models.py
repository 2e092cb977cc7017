"""Tables owned by the notifications service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from casekit.db import make_metadata, utcnow
from casekit.outbox import define_outbox_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox, processed_events = define_outbox_tables(Base.metadata)


class Notification(Base):
    """An in-app notification for one user; one per (user, source event)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "source_event_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    source_event_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), index=True
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
