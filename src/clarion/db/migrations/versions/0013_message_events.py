"""message events

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:20:00.000000

``message_events``: the history of each message that its ledger row cannot tell (each retried or failed
attempt's outcome, server answer and ``Message-ID``, every resend; a message sent at its first attempt has
none); ``messages.header_message_id``, the last attempt's ``Message-ID`` (the key of a captured copy); and an
index on ``messages (org_id, sandbox_id, updated_at)`` for the ledger's statistics over a time window
(``GET /v1/messages/stats``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clarion.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "message_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=80), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("header_message_id", sa.String(length=256), nullable=False),
        sa.Column("at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index("ix_message_events_message", ["message_id", "at"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("header_message_id", sa.String(length=256), nullable=False, server_default="")
        )
        batch_op.create_index(
            "ix_messages_org_sandbox_updated", ["org_id", "sandbox_id", "updated_at"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_org_sandbox_updated")
        batch_op.drop_column("header_message_id")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_message")
    op.drop_table("message_events")
