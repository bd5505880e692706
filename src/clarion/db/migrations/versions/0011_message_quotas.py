"""message quotas

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:10:00.000000

Monthly message quotas per mode on each organization (0: unlimited, the default) with a hard or soft
mode, and the ``message_usage`` counters: messages accepted per organization, UTC day, mode and sandbox.
The primary key starts with the organization and the day, so a month's sum is one index range.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("standard_monthly_quota", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("high_throughput_monthly_quota", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("quota_mode", sa.String(length=8), nullable=False, server_default="hard")
        )
    op.create_table(
        "message_usage",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_message_usage_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "day", "mode", "sandbox_id", name=op.f("pk_message_usage")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("message_usage")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("quota_mode")
        batch_op.drop_column("high_throughput_monthly_quota")
        batch_op.drop_column("standard_monthly_quota")
