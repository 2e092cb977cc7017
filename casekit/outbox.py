"""Transactional outbox and idempotent-consumer records.

A service writes its events into its own ``outbox`` table in the same
transaction as the change; ``casekit.relay`` publishes them later with publisher
confirms. A consumer records each processed event id in ``processed_events`` in
the same transaction as its effect, so a redelivered event is a no-op.
"""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.contracts.events import make_envelope


def define_outbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Add ``outbox`` and ``processed_events`` to a service's own metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("type", String(64), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_pending", "next_attempt_at", postgresql_where=text("sent_at IS NULL")),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("consumer", String(128), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, processed


def notify_channel(service: str) -> str:
    return f"casework_outbox_{service}"


def notify_trigger_sql(service: str) -> list[str]:
    """DDL for a statement-level trigger that wakes the relay on every insert."""
    channel = notify_channel(service)
    return [
        f"""CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
        BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END; $$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
        """CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()""",
    ]


class EventWriter:
    """Stages events for one worker; ``emit`` adds an outbox row to the given session."""

    def __init__(self, producer: str, outbox: Table, principal: Principal) -> None:
        self.producer = producer
        self.outbox = outbox
        self.principal = principal

    def emit(
        self,
        session: Session,
        event_type: str,
        data: dict[str, Any],
        *,
        case_id: str | None = None,
        case_version: int | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        envelope = make_envelope(
            producer=self.producer,
            type=event_type,
            data=data,
            case_id=case_id,
            case_version=case_version,
            actor=self.principal.actor(),
            correlation_id=self.principal.correlation_id,
            event_id=event_id,
        )
        session.execute(
            insert(self.outbox).values(
                event_id=envelope["id"],
                type=event_type,
                payload=envelope,
                headers=self.principal.context_data(),
            )
        )
        return envelope


class Outbox(DependencyProvider):
    """Injects an ``EventWriter`` bound to the calling principal."""

    def __init__(self, outbox: Table) -> None:
        self.outbox = outbox

    def get_dependency(self, worker_ctx: Any) -> EventWriter:
        return EventWriter(self.container.service_name, self.outbox, Principal.from_context(worker_ctx.data))


def first_delivery(session: Session, processed: Table, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` for ``consumer``; False when it was processed before.

    Call it inside the transaction that applies the effect: the record and the
    effect commit together or not at all.
    """
    stmt = (
        pg_insert(processed)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(processed.c.event_id)
    )
    return session.execute(stmt).first() is not None
