"""segment previews

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:20:00.000000

Preview jobs of the Segmentation API (``POST /data/core/ups/preview``): an unsaved PQL expression per
organization and sandbox, with the instant its relative times are evaluated against.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clarion.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "segment_previews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column(
            "expression",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("evaluated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_segment_previews_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_segment_previews_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_previews")),
    )
    with op.batch_alter_table("segment_previews", schema=None) as batch_op:
        batch_op.create_index("ix_segment_previews_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("segment_previews", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_previews_created_at")
    op.drop_table("segment_previews")
