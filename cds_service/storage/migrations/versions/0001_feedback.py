"""The feedback table, as the service created it before migrations existed.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.String(32), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=True),
        sa.Column("override_system", sa.String(255), nullable=True),
        sa.Column("override_code", sa.String(128), nullable=True),
        sa.Column("override_display", sa.String(255), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"),
    )
    op.create_index("ix_feedback_service_id", "feedback", ["service_id"])
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_table("feedback")
