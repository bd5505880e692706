"""custom actions and the action-call ledger

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clarion.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "custom_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("query_parameters", JSON, nullable=False),
        sa.Column("authentication", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("timeout_seconds", sa.Double(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_custom_actions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_custom_actions_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_actions")),
        sa.UniqueConstraint("org_id", "sandbox_id", "name", name=op.f("uq_custom_actions_org_id")),
    )
    op.create_table(
        "action_calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("action_id", sa.String(length=36), nullable=False),
        sa.Column("action_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("throttle_config_uid", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_calls")),
    )
    with op.batch_alter_table("action_calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_action_calls_org_sandbox_accepted", ["org_id", "sandbox_id", "accepted_at"], unique=False
        )
        batch_op.create_index(
            "ix_action_calls_org_sandbox_status",
            ["org_id", "sandbox_id", "status", "accepted_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_action_calls_org_action", ["org_id", "action_id", "accepted_at"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("action_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_action_calls_org_action")
        batch_op.drop_index("ix_action_calls_org_sandbox_status")
        batch_op.drop_index("ix_action_calls_org_sandbox_accepted")
    op.drop_table("action_calls")
    op.drop_table("custom_actions")
