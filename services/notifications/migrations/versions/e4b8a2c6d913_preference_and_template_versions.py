"""preferences and templates carry a version (their ETag; If-Match on change)

Revision ID: e4b8a2c6d913
Revises: c7d2e91a4b10
Create Date: 2026-11-26 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "e4b8a2c6d913"
down_revision = "c7d2e91a4b10"
branch_labels = None
depends_on = None

TABLES = ("preferences", "templates")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "version")
