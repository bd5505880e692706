"""campaign custom action

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 22:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.add_column("campaigns", sa.Column("custom_action_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    """Revert."""
    # batch mode: SQLite rebuilds the table (older SQLite versions cannot drop a column in place).
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("custom_action_id")
