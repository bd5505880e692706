"""One Alembic history migrates both dialects, and it matches the models."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from clarion.db.engine import create_engine
from clarion.db.migrate import alembic_config, upgrade
from tests.conftest import DATABASE_URL


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    admin = make_url(url).set(database="postgres")
    connection = await asyncpg.connect(
        host=admin.host, port=admin.port or 5432, user=admin.username or "postgres", database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def fresh_database_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    if not DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"clarion_mig_{secrets.token_hex(4)}"
    asyncio.run(_admin(DATABASE_URL, f'CREATE DATABASE "{name}"'))
    yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(DATABASE_URL, f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_upgrade_downgrade_upgrade(fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    tables = asyncio.run(_tables(fresh_database_url))
    assert {"organizations", "sandboxes", "api_credentials", "access_tokens", "job_ledger"} <= tables
    command.downgrade(alembic_config(fresh_database_url), "base")
    assert asyncio.run(_tables(fresh_database_url)) == {"alembic_version"}
    upgrade(fresh_database_url)
    assert "organizations" in asyncio.run(_tables(fresh_database_url))


def test_models_match_migrations(database_url: str) -> None:
    # Raises when autogenerate would produce a new migration: a model changed without one.
    command.check(alembic_config(database_url))
