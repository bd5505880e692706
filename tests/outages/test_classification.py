"""``kit.outages``: real driver errors of an unreachable dependency are outages; anything else stays a bug."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import redis.asyncio as redis
import sqlalchemy
from sqlalchemy import text

from clarion.db.engine import create_engine
from clarion.errors import ServiceUnavailable
from clarion.kit.outages import outage_of
from tests.delivery.servers import free_port


async def test_an_unreachable_redis_is_a_queue_outage() -> None:
    client = redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # as the queue and limiter build theirs
    with pytest.raises(redis.ConnectionError) as raised:
        await client.ping()
    await client.aclose()
    outage = outage_of(raised.value)
    assert isinstance(outage, ServiceUnavailable)
    assert (outage.status, outage.dependency, outage.retry_after) == (503, "queue", 5.0)


def test_an_unopenable_sqlite_file_is_a_database_outage(tmp_path: Path) -> None:
    # SQLAlchemy's sync engine wraps the driver's error exactly as the async one does (no driver thread).
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
        engine.connect()
    engine.dispose()
    outage = outage_of(raised.value)
    assert outage is not None
    assert outage.dependency == "database"


async def test_sql_and_programming_errors_stay_bugs(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="no such table") as raised:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
    await engine.dispose()
    assert outage_of(raised.value) is None
    assert outage_of(ValueError("a bug")) is None
    assert outage_of(KeyError("a bug")) is None
    assert outage_of(sqlite3.IntegrityError("UNIQUE constraint failed")) is None


def test_a_locked_or_full_sqlite_queue_file_is_a_queue_outage() -> None:
    for message in ("database is locked", "database or disk is full", "disk I/O error"):
        outage = outage_of(sqlite3.OperationalError(message))
        assert outage is not None
        assert outage.dependency == "queue"
