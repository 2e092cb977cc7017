"""agent profiles carry a version (their ETag; If-Match on change)

Revision ID: d81c5e0f2a47
Revises: b4e2d7a19c63
Create Date: 2026-11-26 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "d81c5e0f2a47"
down_revision = "b4e2d7a19c63"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("agents", "version")
