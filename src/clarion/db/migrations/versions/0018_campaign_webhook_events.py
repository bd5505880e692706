"""campaign webhook events

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 22:30:00.000000

``campaigns.webhook_events``: the event types (``message.bounced``, ``message.clicked``, …) a campaign's
webhook subscribes to. Null, as every existing campaign gets, keeps today's behaviour: every final status.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "webhook_events",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("webhook_events")
