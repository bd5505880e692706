"""action-call throttle index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:10:00.000000

An index of the calls paced by a throttling configuration by their last update, so the live throttling
view (``GET /v1/throttling/live``) counts the calls finished in the last seconds along one index range.
Partial (``throttle_config_uid IS NOT NULL``): direct calls are not indexed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_THROTTLED = sa.text("throttle_config_uid IS NOT NULL")


def upgrade() -> None:
    """Apply."""
    op.create_index(
        "ix_action_calls_org_throttle_updated",
        "action_calls",
        ["org_id", "throttle_config_uid", "updated_at"],
        unique=False,
        sqlite_where=_THROTTLED,
        postgresql_where=_THROTTLED,
    )


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_action_calls_org_throttle_updated", table_name="action_calls")
