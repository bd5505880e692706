"""campaign tracking

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:05:00.000000

Open and click tracking is opted in per campaign (``tracking: {opens, clicks}`` on the wire): two flags on
``campaigns``, off for every existing campaign.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for name in ("track_opens", "track_clicks"):
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("track_clicks")
        batch_op.drop_column("track_opens")
