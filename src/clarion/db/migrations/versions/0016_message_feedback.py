"""message feedback

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:10:00.000000

``message_events`` learns what happens after a message is sent (bounces, complaints, unsubscribes, opens,
clicks): ``campaign_id`` for per-campaign statistics without a join (with an index by kind), and ``data``
for what a kind carries beyond the server's answer (a bounce's status and diagnostic, a click's URL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.String(length=36), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column(
                "data",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_message_events_campaign_kind", ["org_id", "campaign_id", "kind"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_campaign_kind")
        batch_op.drop_column("data")
        batch_op.drop_column("campaign_id")
