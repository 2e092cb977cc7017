"""routing rules, agents, claims and leases, assignment history

Revision ID: a7c31e5b9d20
Revises: 64680f2a4654
Create Date: 2026-11-25 06:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "a7c31e5b9d20"
down_revision = "64680f2a4654"
branch_labels = None
depends_on = None

EMPTY_ARRAY = sa.text("'{}'::varchar[]")

# The queue order is a linear score (see services/routing/logic/views.py): points =
# 10 per priority level + 1 per hour past (or minus 1 per hour before) the SLA deadline
# + 0.1 per hour of age. Written with absolute times the "now" terms are the same for every
# item, so the order is time-invariant and a stored, indexed column can carry it.
RANK_FUNCTION = """
CREATE OR REPLACE FUNCTION work_item_rank() RETURNS trigger AS $$
DECLARE
    born timestamptz := coalesce(NEW.case_created_at, NEW.created_at, now());
BEGIN
    NEW.rank := 10.0 * NEW.priority
        - extract(epoch FROM coalesce(NEW.due_at, born + interval '72 hours')) / 3600.0
        - 0.1 * extract(epoch FROM born) / 3600.0;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
RANK_TRIGGER = """
CREATE TRIGGER work_items_rank BEFORE INSERT OR UPDATE OF priority, due_at, case_created_at, created_at
ON work_items FOR EACH ROW EXECUTE FUNCTION work_item_rank()
"""


def upgrade() -> None:
    add = lambda *a, **k: op.add_column("work_items", sa.Column(*a, **k))  # noqa: E731
    add("case_type", sa.String(64), nullable=True)
    add("stage", sa.String(64), nullable=True)
    add("team", sa.String(64), nullable=True)
    add("channel", sa.String(32), nullable=True)
    add("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    add("case_status", sa.String(16), server_default="open", nullable=False)
    add("case_data", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False)
    add("parties", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False)
    add("case_created_at", sa.DateTime(timezone=True), nullable=True)
    add("base_priority", sa.Integer(), server_default="2", nullable=False)
    add("priority_boost", sa.Integer(), server_default="0", nullable=False)
    add("escalated_priority", sa.Integer(), server_default="0", nullable=False)
    add("required_skills", postgresql.ARRAY(sa.String(64)), server_default=EMPTY_ARRAY, nullable=False)
    add("rule", sa.String(64), nullable=True)
    add("rule_set_version", sa.Integer(), nullable=True)
    add("due_at", sa.DateTime(timezone=True), nullable=True)
    add("queued_at", sa.DateTime(timezone=True), nullable=True)
    add("assigned_at", sa.DateTime(timezone=True), nullable=True)
    add("assigned_via", sa.String(16), nullable=True)
    add("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    add("rank", sa.Float(), server_default="0", nullable=False)
    op.execute(RANK_FUNCTION)
    op.execute(RANK_TRIGGER)
    op.execute(
        "UPDATE work_items SET base_priority = priority, case_created_at = created_at, queued_at = created_at"
    )
    op.execute("CREATE INDEX ix_work_items_queue_rank ON work_items (queue, status, rank DESC, case_id DESC)")
    op.execute("CREATE INDEX ix_work_items_assignee_rank ON work_items (assigned_to, rank DESC, case_id DESC)")
    op.create_index(
        "ix_work_items_lease",
        "work_items",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'assigned' AND lease_expires_at IS NOT NULL"),
    )
    op.create_table(
        "agents",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("skills", postgresql.ARRAY(sa.String(64)), server_default=EMPTY_ARRAY, nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(16)), server_default=EMPTY_ARRAY, nullable=False),
        sa.Column("capacity", sa.Integer(), server_default="5", nullable=False),
        sa.Column("availability", sa.String(16), server_default="available", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agents")),
    )
    op.create_table(
        "rule_sets",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rule_sets")),
    )
    op.create_table(
        "routing_decisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("rule_set_version", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("previous_queue", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("explain", postgresql.JSONB(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    op.create_index(op.f("ix_routing_decisions_case_id"), "routing_decisions", ["case_id"])
    op.create_table(
        "assignment_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(128), nullable=True),
        sa.Column("previous_assignee", sa.String(128), nullable=True),
        sa.Column("by", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_history")),
    )
    op.create_index(op.f("ix_assignment_history_case_id"), "assignment_history", ["case_id"])


def downgrade() -> None:
    op.drop_table("assignment_history")
    op.drop_table("routing_decisions")
    op.drop_table("rule_sets")
    op.drop_table("agents")
    op.execute("DROP TRIGGER IF EXISTS work_items_rank ON work_items")
    op.execute("DROP FUNCTION IF EXISTS work_item_rank()")
    op.drop_index("ix_work_items_lease", table_name="work_items")
    op.drop_index("ix_work_items_assignee_rank", table_name="work_items")
    op.drop_index("ix_work_items_queue_rank", table_name="work_items")
    for column in (
        "rank", "lease_expires_at", "assigned_via", "assigned_at", "queued_at", "due_at",
        "rule_set_version", "rule", "required_skills", "escalated_priority", "priority_boost",
        "base_priority", "case_created_at", "parties", "case_data", "case_status", "channel",
        "team", "stage", "restricted", "case_type",
    ):
        op.drop_column("work_items", column)
