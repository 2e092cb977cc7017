"""The reports read model (its own metadata, in the search service's ``casework_search`` database).

``rp_events`` keeps every event the model was fed (deduplicated by event id); everything else is
derived from a case's events by ``derive.py`` and replaced per case, so the derived rows do not
depend on the order or the number of deliveries.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from casekit.db import make_metadata

metadata = make_metadata()

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# one row per event fed to the model; seq/activity/next_* are derived (activity steps of a case)
events = Table(
    "rp_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("source", String(16), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("case_version", Integer),
    Column("stage", String(64)),  # the case's stage after a cases event
    Column("queue", String(64)),
    Column("assignee", String(128)),
    Column("clock", String(64)),
    Column("met", Boolean),
    Column("elapsed_seconds", Float),
    Column("target_seconds", Float),
    Column("resolution", String(64)),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # derived: the case's activity steps in order, each with the one that follows it
    Column("seq", Integer),
    Column("activity", String(128)),
    Column("next_activity", String(128)),
    Column("next_at", DateTime(timezone=True)),
    Index("ix_rp_events_case", "case_id"),
    Index("ix_rp_events_type_at", "type", "occurred_at"),
    # one row per version of a case: a cases event replayed from history under another id is dropped
    Index(
        "uq_rp_events_case_version",
        "case_id",
        "case_version",
        unique=True,
        postgresql_where=text("source = 'cases'"),
    ),
)

# the current state of each case (from its newest cases event and its routing events)
cases = Table(
    "rp_cases",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("reference", String(64)),
    Column("type", String(64)),
    Column("priority", String(32)),
    Column("channel", String(32)),
    Column("team", String(64)),
    Column("status", String(16), nullable=False),
    Column("stage", String(64)),
    Column("resolution", String(64)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),  # the last close, null while open
    Column("reopened", Integer, nullable=False, server_default=text("0")),
    Column("queue", String(64)),
    Column("assignee", String(128)),
    Column("variant", String(2000)),  # the stages it went through, joined by " > "
    Index("ix_rp_cases_opened", "opened_at"),
    Index("ix_rp_cases_closed", "closed_at"),
    Index("ix_rp_cases_open", "status", "queue"),
)

# stage visits: one row per stay in a stage ("(closed)" while closed); rework = stage seen before
visits = Table(
    "rp_visits",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("stage", String(64), nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Column("next_stage", String(64)),
    Column("prev_stage", String(64)),
    Column("rework", Boolean, nullable=False, server_default=text("false")),
    Index("ix_rp_visits_stage", "stage"),
    Index("ix_rp_visits_rework", "case_id", postgresql_where=text("rework")),
)

CLOSED = "(closed)"
