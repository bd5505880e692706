"""audiences and activation

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:40:28.888245
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clarion.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_export_jobs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_export_jobs_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_export_jobs_org_sandbox_created", ["org_id", "sandbox_id", "created_at"], unique=False
        )

    op.create_table(
        "flow_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("connection_spec_id", sa.String(length=36), nullable=False),
        sa.Column("connection_spec_version", sa.String(length=16), nullable=False),
        sa.Column("base_connection_id", sa.String(length=36), nullable=True),
        sa.Column("auth_spec_name", sa.String(length=128), nullable=True),
        sa.Column("auth_sealed", sa.Text(), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_name", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_client", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_client", sa.String(length=200), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_flow_connections_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_flow_connections_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_connections")),
    )
    with op.batch_alter_table("flow_connections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_flow_connections_org_sandbox_kind", ["org_id", "sandbox_id", "kind"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flow_connections_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "flows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("flow_spec_id", sa.String(length=36), nullable=False),
        sa.Column("flow_spec_version", sa.String(length=16), nullable=False),
        sa.Column(
            "source_connection_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "target_connection_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "transformations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "schedule_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_name", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_client", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_client", sa.String(length=200), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_flows_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"], ["sandboxes.id"], name=op.f("fk_flows_sandbox_id_sandboxes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flows_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "segment_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "expression",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "evaluation_info",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("schema_name", sa.String(length=128), nullable=False),
        sa.Column("profile_instance_id", sa.String(length=64), nullable=False),
        sa.Column("merge_policy_id", sa.String(length=36), nullable=False),
        sa.Column("payload_schema", sa.String(length=128), nullable=True),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_segment_definitions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_segment_definitions_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_definitions")),
        sa.UniqueConstraint("org_id", "sandbox_id", "name", name=op.f("uq_segment_definitions_org_id")),
    )
    with op.batch_alter_table("segment_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segment_definitions_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "segment_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "segment_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_segment_jobs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_segment_jobs_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_jobs")),
    )
    with op.batch_alter_table("segment_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_jobs_org_sandbox_status", ["org_id", "sandbox_id", "status"], unique=False
        )

    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "segment_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "export_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("scheduled_for", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", clarion.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "files",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_name", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_client", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_client", sa.String(length=200), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_runs_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_flow_runs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_flow_runs_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
    )
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index("ix_flow_runs_flow_status", ["flow_id", "status"], unique=False)
        batch_op.create_index(
            "ix_flow_runs_org_sandbox_created", ["org_id", "sandbox_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flow_runs_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "segment_memberships",
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("qualified_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_segment_memberships_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segment_definitions.id"],
            name=op.f("fk_segment_memberships_segment_id_segment_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "profile_id", name=op.f("pk_segment_memberships")),
    )
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_segment_memberships_segment_status", ["segment_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_segment_memberships_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "active_audience_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", clarion.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_runs.id"],
            name=op.f("fk_active_audience_runs_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_audience_runs")),
        sa.UniqueConstraint(
            "org_id", "sandbox_id", "segment_id", name=op.f("uq_active_audience_runs_org_id")
        ),
    )
    with op.batch_alter_table("active_audience_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_active_audience_runs_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "identities",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("identities")

    with op.batch_alter_table("active_audience_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_active_audience_runs_run_id"))

    op.drop_table("active_audience_runs")
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_memberships_segment_status")
        batch_op.drop_index(batch_op.f("ix_segment_memberships_profile_id"))

    op.drop_table("segment_memberships")
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_runs_sandbox_id"))
        batch_op.drop_index("ix_flow_runs_org_sandbox_created")
        batch_op.drop_index("ix_flow_runs_flow_status")

    op.drop_table("flow_runs")
    with op.batch_alter_table("segment_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_jobs_org_sandbox_status")

    op.drop_table("segment_jobs")
    with op.batch_alter_table("segment_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segment_definitions_sandbox_id"))

    op.drop_table("segment_definitions")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flows_sandbox_id"))

    op.drop_table("flows")
    with op.batch_alter_table("flow_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_connections_sandbox_id"))
        batch_op.drop_index("ix_flow_connections_org_sandbox_kind")

    op.drop_table("flow_connections")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_export_jobs_org_sandbox_created")

    op.drop_table("export_jobs")
