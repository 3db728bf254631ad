"""Pending SMART launches and view sessions (issue 17).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_launch",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_smart_launch_expires_at", "smart_launch", ["expires_at"])
    op.create_table(
        "smart_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_smart_session_expires_at", "smart_session", ["expires_at"])


def downgrade() -> None:
    op.drop_table("smart_session")
    op.drop_table("smart_launch")
