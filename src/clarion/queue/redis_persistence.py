"""Does the Redis behind the queue persist what it acknowledged? "202 means durable" needs it to.

Redis keeps the queue in memory; only the append-only file (AOF) brings acknowledged jobs back after a
restart. With ``appendfsync everysec`` a crash of the machine (not of Redis alone) can lose the last second
of writes; ``always`` loses nothing at the price of one fsync per write; ``no`` leaves it to the OS (~30 s).
RDB snapshots alone lose everything since the last snapshot. Managed Redis services often refuse ``CONFIG``:
then ``INFO persistence`` (which every Redis answers) says whether AOF is on, and nothing about fsync.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import ResponseError

AOF_OFF = (
    "Redis persistence is off (appendonly no): a Redis restart loses every queued job that was already "
    "acknowledged with 202. Set `appendonly yes` (see README, Running in production)."
)
FSYNC_NO = (
    "Redis appendfsync is 'no': the OS flushes the AOF when it likes (~30 s of acknowledged jobs at risk "
    "on a machine crash). Use `appendfsync everysec` or `always`."
)


async def persistence_warnings(client: redis.Redis) -> list[str]:
    """What an operator should fix about the persistence of the Redis behind ``client`` (empty: nothing)."""
    try:
        config = await client.config_get("append*")
    except ResponseError:
        # CONFIG is disabled or not granted (managed services): INFO still tells whether AOF is on.
        info = await client.info("persistence")
        return [] if int(info.get("aof_enabled", 0)) else [AOF_OFF]
    settings = {_text(key): _text(value) for key, value in config.items()}
    if settings.get("appendonly") != "yes":
        return [AOF_OFF]
    return [FSYNC_NO] if settings.get("appendfsync") == "no" else []


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
