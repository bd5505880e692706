"""Migration 0009 drops the profile foreign keys without losing a row, and its downgrade restores them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import column, func, insert, inspect, select, table
from sqlalchemy.engine import make_url

from clarion.db.engine import create_engine
from clarion.db.migrate import alembic_config, upgrade
from clarion.models.audiences import SegmentDefinition, SegmentMembership
from clarion.models.profiles import Profile, ProfileIdentity
from clarion.models.tenancy import Organization, Sandbox
from tests.conftest import DATABASE_URL

TABLES = (Profile, ProfileIdentity, SegmentMembership)
ORGANIZATIONS_0008 = table(
    "organizations",
    *(
        column(c.name, c.type)
        for c in Organization.__table__.c
        if c.name not in ("standard_monthly_quota", "high_throughput_monthly_quota", "quota_mode")
    ),
)
"""The organizations table as of 0008: the model has columns added by later migrations."""


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the tested dialect."""
    if not DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"clarion_profiles_mig_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    engine = create_engine(make_url(DATABASE_URL).set(database="postgres").render_as_string(False))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql(statement)
    await engine.dispose()


async def _seed(url: str) -> None:
    """An organization, a sandbox, a profile with an identity and an audience membership."""
    engine = create_engine(url)
    ids = {"org_id": "o1", "sandbox_id": "s1"}
    async with engine.begin() as connection:
        await connection.execute(
            insert(ORGANIZATIONS_0008).values(
                id="o1",
                ims_org_id="o1@AdobeOrg",
                name="o",
                high_throughput_entitled=False,
                standard_rate_per_second=500,
                high_throughput_rate_per_second=5000,
                created_at=datetime.now(UTC),
            )
        )
        await connection.execute(insert(Sandbox).values(id="s1", org_id="o1", name="prod", type="production"))
        await connection.execute(insert(Profile).values(id="p1", attributes={"a": 1}, **ids))
        await connection.execute(
            insert(ProfileIdentity).values(id="i1", namespace="crmid", value="1", profile_id="p1", **ids)
        )
        await connection.execute(
            insert(SegmentDefinition).values(id="d1", name="d", expression={}, merge_policy_id="m", **ids)
        )
        await connection.execute(
            insert(SegmentMembership).values(
                segment_id="d1", profile_id="p1", status="realized", job_id="j", **ids
            )
        )
    await engine.dispose()


async def _state(url: str) -> tuple[list[int], dict[str, list[str]]]:
    """Rows of the profile tables, and the tables each of them refers to by foreign key."""
    engine = create_engine(url)
    async with engine.connect() as connection:
        counts = [
            int(await connection.scalar(select(func.count()).select_from(model)) or 0) for model in TABLES
        ]
        references = await connection.run_sync(
            lambda sync: {
                str(model.__tablename__): sorted(
                    key["referred_table"] for key in inspect(sync).get_foreign_keys(str(model.__tablename__))
                )
                for model in TABLES
            }
        )
    await engine.dispose()
    return counts, references


def test_0009_keeps_every_row_and_only_the_audience_key_of_memberships(fresh_url: str) -> None:
    upgrade(fresh_url, "0008")
    asyncio.run(_seed(fresh_url))
    upgrade(fresh_url, "0009")
    counts, references = asyncio.run(_state(fresh_url))
    assert counts == [1, 1, 1], "SQLite copies the tables: the old profiles must not cascade on drop"
    assert references == {
        "profiles": [],
        "profile_identities": [],
        "segment_memberships": ["segment_definitions"],
    }

    command.downgrade(alembic_config(fresh_url), "0008")
    counts, references = asyncio.run(_state(fresh_url))
    assert counts == [1, 1, 1]
    assert references["profiles"] == ["organizations", "sandboxes"]
    assert references["profile_identities"] == ["profiles"]
    assert references["segment_memberships"] == ["profiles", "segment_definitions"]
