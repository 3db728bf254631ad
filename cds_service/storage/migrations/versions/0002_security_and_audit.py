"""Used JWT ids (replay), the audit trail and issued cards (issues 5 and 6).

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Builds of main between issues 5 and 6 created some of these tables without migrations.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "used_token_id" not in existing:
        _used_token_id()
    if "audit" not in existing:
        _audit()
    if "issued_card" not in existing:
        _issued_card()


def _used_token_id() -> None:
    op.create_table(
        "used_token_id",
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name="pk_used_token_id"),
    )
    op.create_index("ix_used_token_id_expires_at", "used_token_id", ["expires_at"])


def _audit() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(64), nullable=True),
        sa.Column("hook_instance", sa.String(64), nullable=True),
        sa.Column("patient_hash", sa.String(64), nullable=True),
        sa.Column("issuer", sa.String(255), nullable=True),
        sa.Column("card_topics", sa.JSON(), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_service_id", "audit", ["service_id"])
    op.create_index("ix_audit_patient_hash", "audit", ["patient_hash"])


def _issued_card() -> None:
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("decision", sa.String(64), nullable=True),
        sa.Column("indicator", sa.String(16), nullable=False),
    )
    op.create_index("ix_issued_card_at", "issued_card", ["at"])
    op.create_index("ix_issued_card_topic", "issued_card", ["topic"])


def downgrade() -> None:
    op.drop_table("issued_card")
    op.drop_table("audit")
    op.drop_table("used_token_id")
