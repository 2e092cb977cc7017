"""SLA clocks, their history, business calendars and SLA policies

Revision ID: b4e2d7a19c63
Revises: a7c31e5b9d20
Create Date: 2026-11-25 06:50:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "b4e2d7a19c63"
down_revision = "a7c31e5b9d20"
branch_labels = None
depends_on = None


def _stamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sla_calendars")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("case_type", sa.String(length=64), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("case_type", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "sla_cases",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("case_type", sa.String(length=64), nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("paused_by", sa.String(length=200), nullable=True),
        sa.Column("due_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_sla_cases")),
    )
    op.create_index(
        "ix_sla_cases_due_pending",
        "sla_cases",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("due_pending"),
    )
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Interval(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("elapsed", sa.Interval(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("segment_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fired", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint("case_id", "name", "cycle", name="uq_sla_clocks_case_name_cycle"),
    )
    op.create_index(op.f("ix_sla_clocks_case_id"), "sla_clocks", ["case_id"], unique=False)
    op.create_index(
        "ix_sla_clocks_next_fire",
        "sla_clocks",
        ["next_fire_at"],
        unique=False,
        postgresql_where=sa.text("next_fire_at IS NOT NULL"),
    )
    op.create_index(
        "ix_sla_clocks_running_due",
        "sla_clocks",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_table(
        "sla_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("clock_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _stamp("recorded_at"),
        sa.ForeignKeyConstraint(
            ["clock_id"], ["sla_clocks.id"], name=op.f("fk_sla_history_clock_id_sla_clocks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_history")),
    )
    op.create_index(op.f("ix_sla_history_case_id"), "sla_history", ["case_id"], unique=False)
    op.create_index(op.f("ix_sla_history_clock_id"), "sla_history", ["clock_id"], unique=False)
    # a warning or a breach is fired once per clock, whatever races (belt and braces: the timer's
    # SKIP LOCKED claim and the fired list already see to it)
    op.create_index(
        "uq_sla_history_fired",
        "sla_history",
        ["clock_id", "kind", "threshold"],
        unique=True,
        postgresql_where=sa.text("kind IN ('warned', 'breached')"),
    )


def downgrade() -> None:
    op.drop_table("sla_history")
    op.drop_table("sla_clocks")
    op.drop_table("sla_cases")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
