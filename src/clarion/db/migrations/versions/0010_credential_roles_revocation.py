"""credential roles and revocation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:10:00.000000

Adds a role to every API credential (existing keys become ``admin``: they could do everything before),
the time a key was last used, a revocation time per access token, and the one-row ``credential_revision``
counter that every revocation bumps (the gateways of all processes poll it to drop their caches).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clarion.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("api_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
        batch_op.add_column(
            sa.Column("last_used_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revoked_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    revisions = op.create_table(
        "credential_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_revision")),
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    """Revert."""
    op.drop_table("credential_revision")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("api_credentials", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("role")
