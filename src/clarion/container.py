"""The ONLY place that turns configuration URLs into backends: database, queue, limiter, secret box.

A ``Container`` holds backends only and imports no domain; the domain runtime built on it is ``services.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from clarion.config import Settings, SettingsError
from clarion.db.engine import create_engine, create_sessionmaker
from clarion.db.uow import UnitOfWork
from clarion.kit.secretbox import SecretBox, load_or_create_key
from clarion.limiter.port import Limiter
from clarion.queue.port import JobQueue


@dataclass
class Container:
    """The backends of a process, built once and closed once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    queue: JobQueue
    limiter: Limiter
    secrets: SecretBox

    @classmethod
    def build(cls, settings: Settings) -> Container:
        """Choose and construct the backends named by ``settings``; opens no connection yet."""
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url)
        return cls(
            settings,
            engine,
            create_sessionmaker(engine),
            build_queue(settings),
            build_limiter(settings),
            SecretBox(secret_key(settings)),
        )

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work on this process's database and queue."""
        return UnitOfWork(self.sessions, self.queue)

    async def check_database(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def check_queue(self) -> None:
        """Raise if the queue backend does not answer (a ping: no per-queue counts)."""
        await self.queue.ping()

    async def queue_warnings(self) -> list[str]:
        """What would make an acknowledged job not survive a queue restart (Redis without AOF)."""
        return await self.queue.persistence_warnings()

    async def close(self) -> None:
        """Release the backends (after ``Services.close`` flushed what was accepted)."""
        await self.queue.close()
        await self.limiter.close()
        await self.engine.dispose()


def secret_key(settings: Settings) -> str:
    """The configured key; embedded mode keeps one in its home folder, production must configure it."""
    settings.require_secret_key()
    if settings.secret_key:
        return settings.secret_key
    return load_or_create_key(settings.home / "secret.key")


def uses_redis(settings: Settings) -> bool:
    """True when the queue URL names a Redis server (production mode)."""
    return settings.queue_url.startswith(("redis://", "rediss://", "unix://"))


def build_queue(settings: Settings) -> JobQueue:
    """The embedded SQLite queue, or Redis Streams."""
    if uses_redis(settings):
        from clarion.queue.redis_streams import RedisStreamQueue

        return RedisStreamQueue(
            settings.queue_url, prefix=settings.redis_prefix, max_attempts=settings.queue_max_attempts
        )
    if settings.queue_url != "sqlite":  # Settings already refuses any other value; this guards direct use
        raise SettingsError(f"CLARION_QUEUE_URL must be 'sqlite' or redis://… (got {settings.queue_url!r})")
    from clarion.queue.sqlite import SqliteQueue

    return SqliteQueue(settings.queue_path, max_attempts=settings.queue_max_attempts)


def build_limiter(settings: Settings) -> Limiter:
    """In-process GCRA when embedded (one process), the Redis script when the queue is Redis (shared)."""
    if uses_redis(settings):
        from clarion.limiter.redis import RedisLimiter

        return RedisLimiter(settings.queue_url, prefix=settings.redis_prefix)
    from clarion.limiter.memory import MemoryLimiter

    return MemoryLimiter()
