"""Redis GCRA limiter: one Lua script shared by every process; Redis ``TIME`` is the one clock.

The script implements the same two formulas as ``memory.py`` (see its module docstring), in integer
microseconds. Each decision is one ``EVALSHA`` that runs atomically on the server, so any number of processes
and tasks can share a key without locks.

Calls made by concurrent tasks of one process are coalesced: every decision asked for during one turn of the
event loop goes out in one pipeline, and a call made while nothing else is under way goes straight out as a
plain ``EVALSHA``. Measured here (bench/limiter.py), coalescing gives ~1.5x the decisions/s of one
``EVALSHA`` per call at 32 concurrent tasks, keeps any number of concurrent callers on at most
``_MAX_IN_FLIGHT`` connections (redis-py's default pool raises past 100), and, when many callers start
at once, their replies come back in one round trip instead of spread over 32 (a smaller start-up skew).
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
# Pipelines in flight at once (each holds one connection) and commands per pipeline. More pipelines in
# flight measured no faster on 2 cores; the cap keeps the connection count small however many tasks call.
_MAX_IN_FLIGHT = 4
_MAX_BATCH = 256

_Args = tuple[str, str, int, int, str, int]
_Call = tuple[_Args, asyncio.Future[Decision]]


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
        args = (self.redis_key(key), repr(1e6 / limit.rate), limit.burst, cost, mode, max_wait_us)
        if not (self._pending or self._in_flight or self._direct):
            # Nothing else under way: go straight out, sparing a lone caller the queue's task and future
            # (~15 % of its decisions/s); calls arriving meanwhile are coalesced behind this one.
            self._direct += 1
            try:
                (reply,) = await self._evalsha([args])
            finally:
                self._direct -= 1
            if isinstance(reply, Exception):
                raise reply
            return _decision(reply)
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending.append((args, future))
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
        batch = [call for call in batch if not call[1].done()]
        if not batch:
            return
        try:
            replies = await self._evalsha([args for args, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller in the batch learns it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # cancelled while the call was on its way: the slots are taken all the same
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(_decision(reply))

    async def _evalsha(self, calls: Sequence[_Args], *, load_on_noscript: bool = True) -> list[Any]:
        """EVALSHA each call (pipelined when several); on NOSCRIPT load the script and redo those calls."""
        replies: list[Any]
        if len(calls) == 1:
            try:
                replies = [await self._redis.evalsha(self._sha, 1, *calls[0])]
            except NoScriptError as exc:
                replies = [exc]
        else:
            pipe = self._redis.pipeline(transaction=False)
            for args in calls:
                pipe.evalsha(self._sha, 1, *args)
            replies = await pipe.execute(raise_on_error=False)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing and load_on_noscript:
            # A NOSCRIPT command did nothing, so running it again cannot take a slot twice.
            self._sha = await self._redis.script_load(_GCRA_LUA)
            redone = await self._evalsha([calls[i] for i in missing], load_on_noscript=False)
            for i, reply in zip(missing, redone, strict=True):
                replies[i] = reply
        return replies


def _decision(reply: Any) -> Decision:
    """The script's ``{allowed, wait_us}`` as a Decision."""
    allowed, wait_us = reply
    return Decision(allowed=allowed == 1, wait=int(wait_us) / 1e6)
