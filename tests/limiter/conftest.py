"""The limiter under test, chosen like every other backend: ``CLARION_TEST_QUEUE_URL``.

``sqlite`` or unset → ``MemoryLimiter`` (the embedded twin); ``redis://…`` → ``RedisLimiter`` with a random
key prefix per test, whose keys are deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from clarion.limiter.memory import MemoryLimiter
from clarion.limiter.port import Limiter
from clarion.limiter.redis import RedisLimiter

QUEUE_URL = os.environ.get("CLARION_TEST_QUEUE_URL", "sqlite") or "sqlite"


@pytest.fixture
def backend() -> str:
    """``memory`` or ``redis``: which implementation the contract runs against."""
    if QUEUE_URL.startswith("sqlite"):
        return "memory"
    if QUEUE_URL.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    pytest.fail(f"CLARION_TEST_QUEUE_URL={QUEUE_URL!r}: expected 'sqlite' or a redis:// URL")


@pytest.fixture
async def limiter(backend: str) -> AsyncIterator[Limiter]:
    """A fresh limiter; for Redis, keys live under a per-test prefix and are removed afterwards."""
    if backend == "memory":
        memory = MemoryLimiter()
        yield memory
        await memory.close()
        return
    client = Redis.from_url(QUEUE_URL)
    prefix = f"clarion-test-{secrets.token_hex(6)}"
    shared = RedisLimiter(client, prefix=prefix)
    try:
        yield shared
    finally:
        await shared.close()
        leftovers = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if leftovers:
            await client.delete(*leftovers)
        await client.aclose()
