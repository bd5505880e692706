"""Queue fixtures. ``CLARION_TEST_QUEUE_URL`` picks the ONE backend the suite runs against (CI runs it once
per backend): ``sqlite`` (default, a file in the test's tmp folder) or ``redis://…`` (a random key prefix per
test, whose keys are deleted afterwards). The crash and shutdown tests also use the main database
(``database_url`` from ``tests/conftest.py``: migrated SQLite or ``CLARION_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from clarion.db.engine import create_engine
from clarion.models.jobs import JobLedgerEntry
from clarion.queue.port import JobQueue
from clarion.queue.redis_streams import RedisStreamQueue
from clarion.queue.sqlite import SqliteQueue
from tests.conftest import QUEUE_URL
from tests.queue.worker_process import effects_table


def _backend() -> str:
    if QUEUE_URL in ("", "sqlite"):
        return "sqlite"
    if QUEUE_URL.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    raise pytest.UsageError(f"CLARION_TEST_QUEUE_URL={QUEUE_URL!r}: expected 'sqlite' or a redis:// URL")


@dataclass
class QueueFactory:
    """Opens queue instances on ONE shared store (the same SQLite file, or the same Redis key prefix)."""

    backend: str
    path: Path
    prefix: str
    opened: list[JobQueue] = field(default_factory=list)

    def __call__(
        self, *, max_attempts: int = 8, backoff_base: float = 0.05, backoff_max: float = 5.0
    ) -> JobQueue:
        """A new instance (a new writer thread / a new consumer) on the shared store."""
        options: dict[str, Any] = {
            "max_attempts": max_attempts,
            "backoff_base": backoff_base,
            "backoff_max": backoff_max,
        }
        queue: JobQueue
        if self.backend == "sqlite":
            queue = SqliteQueue(self.path, **options)
        else:
            queue = RedisStreamQueue(QUEUE_URL, prefix=self.prefix, **options)
        self.opened.append(queue)
        return queue

    def process_args(self) -> list[str]:
        """The same store, as command-line options of ``worker_process.py``."""
        url = "sqlite" if self.backend == "sqlite" else QUEUE_URL
        return ["--queue-url", url, "--queue-path", str(self.path), "--prefix", self.prefix]


@pytest.fixture
async def make_queue(tmp_path: Path) -> AsyncIterator[QueueFactory]:
    """Factory of queue instances sharing one store; everything is closed and cleaned up afterwards."""
    factory = QueueFactory(_backend(), tmp_path / "queue.db", f"clarion-test-{secrets.token_hex(6)}")
    try:
        yield factory
    finally:
        for queue in factory.opened:
            await queue.close()
        if factory.backend == "redis":
            await _delete_prefix(factory.prefix)


async def _delete_prefix(prefix: str) -> None:
    client = Redis.from_url(QUEUE_URL)
    try:
        leftovers = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if leftovers:
            await client.delete(*leftovers)
    finally:
        await client.aclose()


@pytest.fixture
def queue(make_queue: QueueFactory) -> JobQueue:
    """One queue instance with test-friendly backoff (0.05 s base)."""
    return make_queue()


@dataclass
class EffectsDb:
    """The main database as the subprocess workers see it, with this test's own effects table."""

    url: str
    engine: AsyncEngine
    table: Table

    async def count(self, kind: str = "effect") -> int:
        """Rows of one kind (``effect``, ``skip`` or ``start``)."""
        async with self.engine.connect() as connection:
            statement = select(func.count()).select_from(self.table).where(self.table.c.kind == kind)
            return int((await connection.execute(statement)).scalar_one())

    async def per_job(self, kind: str = "effect") -> dict[str, int]:
        """Rows of one kind per job id."""
        async with self.engine.connect() as connection:
            statement = (
                select(self.table.c.job_id, func.count())
                .where(self.table.c.kind == kind)
                .group_by(self.table.c.job_id)
            )
            return {job_id: int(n) for job_id, n in (await connection.execute(statement)).all()}

    async def attempts(self, kind: str) -> list[int]:
        """The delivery attempt recorded with every row of one kind."""
        async with self.engine.connect() as connection:
            statement = select(self.table.c.attempts).where(self.table.c.kind == kind)
            return [int(a) for a in (await connection.execute(statement)).scalars()]


@pytest.fixture
async def effects_db(database_url: str) -> AsyncIterator[EffectsDb]:
    """A fresh effects table (no unique constraint) in the main database; dropped with its ledger rows."""
    engine = create_engine(database_url)
    table = effects_table(f"queue_test_effects_{secrets.token_hex(4)}")
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
    try:
        yield EffectsDb(database_url, engine, table)
    finally:
        ledger: Any = JobLedgerEntry.__table__
        async with engine.begin() as connection:
            await connection.execute(delete(ledger).where(ledger.c.job_id.in_(select(table.c.job_id))))
            await connection.run_sync(table.drop)
        await engine.dispose()
