"""The ONLY place that turns configuration URLs into backends: database, queue, limiter, gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from clarion.config import Settings
from clarion.db.engine import create_engine, create_sessionmaker
from clarion.db.uow import UnitOfWork
from clarion.executions.intake import Intake
from clarion.kit.secretbox import SecretBox, load_or_create_key
from clarion.limiter.port import Limiter
from clarion.outbound.intake import CallIntake
from clarion.outbound.rules import RuleBook
from clarion.outbound.transport import ThrottledTransport
from clarion.queue.port import JobQueue
from clarion.tenancy.gateway import Gateway


@dataclass
class Container:
    """Every long-lived collaborator of a process, built once and closed once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    queue: JobQueue
    limiter: Limiter
    gateway: Gateway
    secrets: SecretBox
    intake: Intake
    http: httpx.AsyncClient
    rules: RuleBook
    calls: CallIntake

    @classmethod
    def build(cls, settings: Settings) -> Container:
        """Choose and construct the backends named by ``settings``; opens no connection yet."""
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        queue = build_queue(settings)
        limiter = build_limiter(settings)

        def unit_of_work() -> UnitOfWork:
            return UnitOfWork(sessions, queue)

        gateway = Gateway(unit_of_work, cache_seconds=settings.auth_cache_seconds)
        intake = Intake(unit_of_work, queue, limiter)
        rules = RuleBook(unit_of_work, limiter)
        http = httpx.AsyncClient(
            transport=ThrottledTransport(
                httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=256, max_keepalive_connections=64)
                ),
                rules,
                limiter,
                max_wait=settings.http_throttle_max_wait_seconds,
            ),
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            follow_redirects=False,
        )
        box = SecretBox(secret_key(settings))
        calls = CallIntake(unit_of_work, queue, rules, box)
        return cls(settings, engine, sessions, queue, limiter, gateway, box, intake, http, rules, calls)

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work on this process's database and queue."""
        return UnitOfWork(self.sessions, self.queue)

    async def check_database(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def check_queue(self) -> None:
        """Raise if the queue backend does not answer."""
        await self.queue.stats()

    async def close(self) -> None:
        """Flush and release everything."""
        await self.intake.drain()
        await self.calls.drain()
        await self.http.aclose()
        await self.queue.close()
        await self.limiter.close()
        await self.engine.dispose()


def secret_key(settings: Settings) -> str:
    """The configured key; embedded mode keeps one in its home folder, production must configure it."""
    if settings.secret_key:
        return settings.secret_key
    if not settings.embedded:
        raise ValueError("CLARION_SECRET_KEY must be set when running on PostgreSQL (see README: Production)")
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
    if settings.queue_url != "sqlite":
        raise ValueError(f"CLARION_QUEUE_URL must be 'sqlite' or redis://… (got {settings.queue_url!r})")
    from clarion.queue.sqlite import SqliteQueue

    return SqliteQueue(settings.queue_path, max_attempts=settings.queue_max_attempts)


def build_limiter(settings: Settings) -> Limiter:
    """In-process GCRA when embedded (one process), the Redis script when the queue is Redis (shared)."""
    if uses_redis(settings):
        from clarion.limiter.redis import RedisLimiter

        return RedisLimiter(settings.queue_url, prefix=settings.redis_prefix)
    from clarion.limiter.memory import MemoryLimiter

    return MemoryLimiter()
