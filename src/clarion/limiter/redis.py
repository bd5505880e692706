"""Redis GCRA limiter: one Lua script shared by every process; Redis ``TIME`` is the one clock.

The script implements the same two formulas as ``memory.py`` (see its module docstring), in integer
microseconds. Each decision is one ``EVALSHA`` that runs atomically on the server, so any number of processes
and tasks can share a key without locks.

Calls made by concurrent tasks of one process are coalesced: every decision asked for during one turn of the
event loop goes out in one pipeline, and a call made while nothing else is under way goes straight out as a
plain ``EVALSHA``. Within a pipeline, the calls on one key (same limit and mode) are one ``EVALSHA`` that
decides them in the order they were made — exactly what that many separate calls would have decided —
so the 5,000 request caps a second of one organization cost Redis a few dozen scripts, not 5,000, and the
API process a few dozen commands to encode. Measured here (bench/limiter.py), coalescing gives ~1.5x the
decisions/s of one ``EVALSHA`` per call at 32 concurrent tasks even on distinct keys, keeps any number of
concurrent callers on at most ``_MAX_IN_FLIGHT`` connections (redis-py's default pool raises past 100),
and, when many callers start at once, their replies come back in one round trip instead of spread over 32.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from clarion.limiter.memory import validate_request
from clarion.limiter.port import Decision, RateLimit

# Deletes the lock only if it still holds our token (it may have lapsed and been taken by another).
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_LOCK_FIRST_PAUSE = 0.0005
_LOCK_MAX_PAUSE = 0.002

# KEYS[1] = the key holding the TAT (integer µs on the Redis clock).
# ARGV: 1 interval T in µs (may be fractional), 2 burst, 3 mode 'check' | 'reserve', 4 max wait in µs
#       (reserve only), 5… the cost of each decision, in the order they were asked for.
# Returns {allowed 1|0, wait in µs} per decision, flattened. Waits are rounded up: a caller that sleeps
# them is never early. A denied decision takes nothing, so the ones after it are decided on the same TAT.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local check = ARGV[3] == 'check'
local max_wait = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local start_tat = tat
local replies = {}
for i = 5, #ARGV do
  local cost = tonumber(ARGV[i])
  local wait
  if check then
    wait = tat + (cost - burst) * interval - now
    if wait <= 0 then wait = 0 end
  else
    wait = tat - (burst - 1) * interval - now
    if wait < 0 then wait = 0 end
  end
  if (check and wait > 0) or (not check and wait > max_wait) then
    replies[#replies + 1] = 0
  else
    -- Round the TAT up to a whole µs (never over-admits; costs at most 1 µs per decision).
    tat = math.ceil(tat + cost * interval)
    replies[#replies + 1] = 1
  end
  replies[#replies + 1] = math.ceil(wait)
end
if tat ~= start_tat then
  -- Expire 1 ms after the TAT: from then on an absent key and the stored one mean the same thing.
  -- string.format: a bare Lua number would be sent as %.17g, which is fine today but not a contract.
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
return replies
"""

# Larger than any sensible max_wait (~285 years in µs) yet exact in a double, for max_wait=inf.
_MAX_WAIT_US = 2**53
# Pipelines in flight at once (each holds one connection) and commands per pipeline. More pipelines in
# flight measured no faster on 2 cores; the cap keeps the connection count small however many tasks call.
_MAX_IN_FLIGHT = 4
_MAX_BATCH = 256

_Group = tuple[str, str, int, str, int]
"""(Redis key, interval in µs, burst, mode, max wait in µs): calls that one script run can decide."""
_Call = tuple[_Group, int, asyncio.Future[Decision]]
"""A queued decision: its group, its cost, its caller's future."""


class RedisLimiter:
    """GCRA limiter shared through Redis; the ``Limiter`` port for many processes.

    TAT lives under ``{prefix}:rl:{key}`` with a PEXPIRE just past the TAT, so idle keys vanish by
    themselves. A client passed in stays owned by the caller; a URL makes a client this limiter closes.
    One instance serves one event loop (it queues calls between loop turns).
    """

    def __init__(self, url_or_client: str | Redis, *, prefix: str = "clarion") -> None:
        if isinstance(url_or_client, str):
            self._redis: Redis = Redis.from_url(url_or_client)
            self._owns_client = True
        else:
            self._redis = url_or_client
            self._owns_client = False
        self._key_prefix = f"{prefix}:rl:"
        # EVALSHA by the script's SHA-1, computed here; the text is sent (SCRIPT LOAD) only when the server
        # answers NOSCRIPT: the first call on a fresh server, or after a restart / SCRIPT FLUSH.
        self._sha = hashlib.sha1(_GCRA_LUA.encode(), usedforsecurity=False).hexdigest()
        self._pending: list[_Call] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._direct = 0  # lone calls sent without queueing, still awaiting their reply

    def redis_key(self, key: str) -> str:
        """The Redis key that holds ``key``'s TAT."""
        return self._key_prefix + key

    async def check(self, key: str, limit: RateLimit, *, cost: int = 1) -> Decision:
        """Take ``cost`` slots now, or deny with the time after which they would be available."""
        validate_request(limit, cost)
        return await self._decide(key, limit, cost, "check", 0)

    async def reserve(self, key: str, limit: RateLimit, *, cost: int = 1, max_wait: float) -> Decision:
        """Take the next ``cost`` slots and return the wait until the first one; deny past ``max_wait``."""
        validate_request(limit, cost, max_wait=max_wait)
        max_wait_us = _MAX_WAIT_US if max_wait * 1e6 >= _MAX_WAIT_US else math.floor(max_wait * 1e6)
        return await self._decide(key, limit, cost, "reserve", max_wait_us)

    async def reset(self, key: str) -> None:
        """Forget the key's state (a configuration was removed or its rate changed)."""
        await self._redis.delete(self.redis_key(key))

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str, *, ttl: float) -> AsyncIterator[None]:
        """Hold ``key``'s mutex across processes: ``SET NX PX``, released only by its holder (token)."""
        lock_key, token = f"{self._key_prefix}lock:{key}", secrets.token_hex(8)
        ttl_ms = max(1, math.ceil(ttl * 1000))
        pause = _LOCK_FIRST_PAUSE
        while not await self._redis.set(lock_key, token, nx=True, px=ttl_ms):
            await asyncio.sleep(pause)  # holders keep it for a round trip or two: poll fast, then back off
            pause = min(pause * 2, _LOCK_MAX_PAUSE)
        try:
            yield
        finally:
            await self._redis.eval(_RELEASE_LUA, 1, lock_key, token)

    async def close(self) -> None:
        """Let decisions already asked for finish, then close the client if this limiter created it."""
        while self._pending or self._in_flight:
            if self._pending:
                self._flush()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._owns_client:
            await self._redis.aclose()

    # --- coalescing --------------------------------------------------------------------------------------

    async def _decide(self, key: str, limit: RateLimit, cost: int, mode: str, max_wait_us: int) -> Decision:
        # repr keeps every digit of a fractional interval (e.g. 333333.3333333333 µs at 3/s).
        group = (self.redis_key(key), repr(1e6 / limit.rate), limit.burst, mode, max_wait_us)
        if not (self._pending or self._in_flight or self._direct):
            # Nothing else under way: go straight out, sparing a lone caller the queue's task and future
            # (~15 % of its decisions/s); calls arriving meanwhile are coalesced behind this one.
            self._direct += 1
            try:
                (reply,) = await self._evalsha([(group, [cost])])
            finally:
                self._direct -= 1
            if isinstance(reply, Exception):
                raise reply
            return _decisions(reply)[0]
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending.append((group, cost, future))
        if not self._flush_scheduled and len(self._in_flight) < _MAX_IN_FLIGHT:
            # Run after every task that is ready this turn has had the chance to queue its call too.
            asyncio.get_running_loop().call_soon(self._flush)
            self._flush_scheduled = True
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        while self._pending and len(self._in_flight) < _MAX_IN_FLIGHT:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        # Calls queued while every pipeline slot was busy go out now.
        if self._pending and not self._flush_scheduled:
            self._flush()

    async def _send(self, batch: list[_Call]) -> None:
        # A caller cancelled before its call went out takes nothing; one cancelled later keeps its slots.
        groups: dict[_Group, list[tuple[int, asyncio.Future[Decision]]]] = {}
        for group, cost, future in batch:
            if not future.done():
                groups.setdefault(group, []).append((cost, future))
        if not groups:
            return
        try:
            replies = await self._evalsha(
                [(group, [cost for cost, _ in calls]) for group, calls in groups.items()]
            )
        except asyncio.CancelledError:
            for calls in groups.values():
                for _, future in calls:
                    future.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller in the batch learns it
            for calls in groups.values():
                _settle([future for _, future in calls], exc)
            return
        for calls, reply in zip(groups.values(), replies, strict=True):
            futures = [future for _, future in calls]
            _settle(futures, reply if isinstance(reply, Exception) else _decisions(reply))

    async def _evalsha(
        self, runs: Sequence[tuple[_Group, list[int]]], *, load_on_noscript: bool = True
    ) -> list[Any]:
        """One EVALSHA per (group, costs) (pipelined when several); on NOSCRIPT load the script and redo."""
        replies: list[Any]
        if len(runs) == 1:
            try:
                replies = [await self._redis.evalsha(self._sha, 1, *runs[0][0], *runs[0][1])]
            except NoScriptError as exc:
                replies = [exc]
        else:
            pipe = self._redis.pipeline(transaction=False)
            for group, costs in runs:
                pipe.evalsha(self._sha, 1, *group, *costs)
            replies = await pipe.execute(raise_on_error=False)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing and load_on_noscript:
            # A NOSCRIPT command did nothing, so running it again cannot take a slot twice.
            self._sha = await self._redis.script_load(_GCRA_LUA)
            redone = await self._evalsha([runs[i] for i in missing], load_on_noscript=False)
            for i, reply in zip(missing, redone, strict=True):
                replies[i] = reply
        return replies


def _decisions(reply: Any) -> list[Decision]:
    """The script's flat ``{allowed, wait_us, allowed, wait_us, …}`` as Decisions."""
    return [
        Decision(allowed=allowed == 1, wait=int(wait_us) / 1e6)
        for allowed, wait_us in zip(reply[::2], reply[1::2], strict=True)
    ]


def _settle(futures: Sequence[asyncio.Future[Decision]], outcome: Exception | list[Decision]) -> None:
    """Hand each caller its decision (or the error); one cancelled meanwhile keeps its slots all the same."""
    for index, future in enumerate(futures):
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[index])
