"""channels: outbound messages, delivery log, subscriptions, preferences, templates

Revision ID: c7d2e91a4b10
Revises: b5628c4d3c1e
Create Date: 2026-11-25 06:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c7d2e91a4b10"
down_revision = "b5628c4d3c1e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "case_id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_case_id"), "subscriptions", ["case_id"])
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("channels", postgresql.JSONB(), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_preferences")),
    )
    op.create_table(
        "templates",
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("event", "locale", name=op.f("pk_templates")),
    )
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("to_addr", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("in_reply_to", sa.String(998), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ts, nullable=False),
        sa.Column("lease_until", ts, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(255), nullable=True),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("sent_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbound_messages_idempotency_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbound_messages_message_id")),
    )
    op.create_index(op.f("ix_outbound_messages_case_id"), "outbound_messages", ["case_id"])
    op.create_index(op.f("ix_outbound_messages_state"), "outbound_messages", ["state"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("finished_at", ts, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(op.f("ix_delivery_attempts_message_id"), "delivery_attempts", ["message_id"])


def downgrade() -> None:
    for table in ("delivery_attempts", "outbound_messages", "templates", "preferences", "subscriptions"):
        op.drop_table(table)
