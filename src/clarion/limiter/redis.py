"""Redis GCRA limiter: one Lua script shared by every process; Redis ``TIME`` is the one clock.

The script implements the same two formulas as ``memory.py`` (see its module docstring), in integer
microseconds. Each decision is one ``EVALSHA`` round trip and runs atomically on the server, so any number
of processes and tasks can share a key without locks.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from clarion.limiter.memory import validate_request
from clarion.limiter.port import Decision, RateLimit

# KEYS[1] = the key holding the TAT (integer µs on the Redis clock).
# ARGV: 1 interval T in µs (may be fractional), 2 burst, 3 cost, 4 mode 'check' | 'reserve',
#       5 max wait in µs (reserve only).
# Returns {allowed 1|0, wait in µs}. Waits are rounded up: a caller that sleeps them is never early.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait
if ARGV[4] == 'check' then
  wait = tat + (cost - burst) * interval - now
  if wait > 0 then return {0, math.ceil(wait)} end
  wait = 0
else
  wait = tat - (burst - 1) * interval - now
  if wait < 0 then wait = 0 end
  if wait > tonumber(ARGV[5]) then return {0, math.ceil(wait)} end
end
-- Round the stored TAT up to a whole µs (never over-admits; costs at most 1 µs per decision).
-- string.format: a bare Lua number would be sent as %.17g, which is fine today but not a contract.
local new_tat = math.ceil(tat + cost * interval)
-- Expire 1 ms after the TAT: from then on an absent key and the stored one mean the same thing.
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.ceil(wait)}
"""

# Larger than any sensible max_wait (~285 years in µs) yet exact in a double, for max_wait=inf.
_MAX_WAIT_US = 2**53


class RedisLimiter:
    """GCRA limiter shared through Redis; the ``Limiter`` port for many processes.

    TAT lives under ``{prefix}:rl:{key}`` with a PEXPIRE just past the TAT, so idle keys vanish by
    themselves. A client passed in stays owned by the caller; a URL makes a client this limiter closes.
    """

    def __init__(self, url_or_client: str | Redis, *, prefix: str = "clarion") -> None:
        if isinstance(url_or_client, str):
            self._redis: Redis = Redis.from_url(url_or_client)
            self._owns_client = True
        else:
            self._redis = url_or_client
            self._owns_client = False
        self._key_prefix = f"{prefix}:rl:"
        # register_script sends EVALSHA and falls back to SCRIPT LOAD on NOSCRIPT (first call, or after a
        # server restart / SCRIPT FLUSH), so the script text crosses the wire only when needed.
        self._script = self._redis.register_script(_GCRA_LUA)

    def redis_key(self, key: str) -> str:
        """The Redis key that holds ``key``'s TAT."""
        return self._key_prefix + key

    async def check(self, key: str, limit: RateLimit, *, cost: int = 1) -> Decision:
        """Take ``cost`` slots now, or deny with the time after which they would be available."""
        validate_request(limit, cost)
        return await self._run(key, limit, cost, "check", 0)

    async def reserve(self, key: str, limit: RateLimit, *, cost: int = 1, max_wait: float) -> Decision:
        """Take the next ``cost`` slots and return the wait until the first one; deny past ``max_wait``."""
        validate_request(limit, cost, max_wait=max_wait)
        max_wait_us = _MAX_WAIT_US if max_wait * 1e6 >= _MAX_WAIT_US else math.floor(max_wait * 1e6)
        return await self._run(key, limit, cost, "reserve", max_wait_us)

    async def reset(self, key: str) -> None:
        """Forget the key's state (a configuration was removed or its rate changed)."""
        await self._redis.delete(self.redis_key(key))

    async def close(self) -> None:
        """Close the client if this limiter created it."""
        if self._owns_client:
            await self._redis.aclose()

    async def _run(self, key: str, limit: RateLimit, cost: int, mode: str, max_wait_us: int) -> Decision:
        # repr keeps every digit of a fractional interval (e.g. 333333.3333333333 µs at 3/s).
        interval_us = repr(1e6 / limit.rate)
        allowed, wait_us = await self._script(
            keys=[self.redis_key(key)],
            args=[interval_us, limit.burst, cost, mode, max_wait_us],
        )
        return Decision(allowed=allowed == 1, wait=int(wait_us) / 1e6)
