"""suppressions

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:30:00.000000

The suppression list per organization and sandbox, shaped for the workers' in-memory copy that the send path
checks without a database read per message (``suppressions/cache.py``):

- ``suppressions``: one row per (address, reason, category); the address lowercased (matching is
  case-insensitive) and in the ``C`` collation on PostgreSQL, so an address prefix is a plain index range.
  Every change stamps its rows with the sandbox's next ``revision``, and a removal is a tombstone
  (``removed_at``) purged after a day, so a process holding revision ``r`` reads only what changed since with
  one range of ``ix_suppressions_revision``. ``id`` increases: the list's newest-first order and its opaque
  cursor (``ix_suppressions_listing``, and ``ix_suppressions_reason`` for the reason filter); the unique key
  serves the lookup by address, address prefixes and idempotent adds (``ON CONFLICT``).
- ``suppression_revisions``: one counter per sandbox, bumped in the changing transaction. Its row lock
  serializes the writers of one sandbox, so revisions commit in increasing order: a reader that sees ``R``
  has every row stamped ``≤ R``. A worker checks all the sandboxes it holds with one read of this table.
- ``suppression_soft_bounces``: the messages that soft-bounced per address (keyed by message, so retries
  of one message count once) for the "N soft-bounced messages in D days" rule; rows older than D days are
  pruned as bounces arrive.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clarion.db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(length=320).with_variant(sa.String(length=320, collation="C"), "postgresql")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "suppressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("address", _ADDRESS, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_suppressions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_suppressions_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "org_id", "sandbox_id", "address", "reason", "category", name=op.f("uq_suppressions_org_id")
        ),
    )
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index("ix_suppressions_listing", ["org_id", "sandbox_id", "id"], unique=False)
        batch_op.create_index(
            "ix_suppressions_reason", ["org_id", "sandbox_id", "reason", "id"], unique=False
        )
        batch_op.create_index("ix_suppressions_revision", ["org_id", "sandbox_id", "revision"], unique=False)
    op.create_table(
        "suppression_revisions",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "sandbox_id", name=op.f("pk_suppression_revisions")),
    )
    op.create_table(
        "suppression_soft_bounces",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("address", _ADDRESS, nullable=False),
        sa.Column("message_id", sa.String(length=80), nullable=False),
        sa.Column("at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "sandbox_id", "address", "message_id", name=op.f("pk_suppression_soft_bounces")
        ),
    )
    with op.batch_alter_table("suppression_soft_bounces", schema=None) as batch_op:
        batch_op.create_index("ix_suppression_soft_bounces_at", ["org_id", "sandbox_id", "at"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("suppression_soft_bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_suppression_soft_bounces_at")
    op.drop_table("suppression_soft_bounces")
    op.drop_table("suppression_revisions")
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_revision")
        batch_op.drop_index("ix_suppressions_reason")
        batch_op.drop_index("ix_suppressions_listing")
    op.drop_table("suppressions")
