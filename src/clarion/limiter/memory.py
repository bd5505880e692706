"""In-process GCRA limiter: one dict of theoretical arrival times (TAT), for a single event loop.

GCRA in one paragraph: a key's state is its TAT, the time at which the key would be "caught up" if every
slot it took so far had been spaced exactly ``T = 1 / rate`` apart. A state whose TAT is in the past is the
same as no state at all. ``burst`` slots may be taken at once from idle, so the tolerance is
``tau = (burst - 1) * T`` (burst 1 means strict spacing). With ``tat = max(stored_tat, now)``:

- check:   ``new_tat = tat + cost * T``; allowed iff ``new_tat - burst * T <= now`` (store ``new_tat``),
           else denied with ``wait = new_tat - burst * T - now`` and nothing stored.
- reserve: ``wait = max(0, tat - tau - now)``; denied (nothing stored) iff ``wait > max_wait``, else store
           ``tat + cost * T``. Slot *i* of the reservation starts ``wait + i * T`` from now.

The TAT is an absolute time, and ``T`` and ``tau`` come with each call, so a changed limit governs the very
next decision: a lower rate or a larger burst applies at once; after a rate increase, slots already handed
out at the old pace keep their times (in reserve mode callers are sleeping on them) and the new spacing
starts behind them. ``reset`` drops that history when a fresh start is wanted.

Both formulas are mirrored exactly by the Lua script in ``redis.py``; keep them in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable

from clarion.limiter.port import Decision, RateLimit

# A sweep of idle keys runs when the dict reaches this size, then again each time it doubles since the
# last sweep: O(1) amortized per decision, and memory stays within ~2x the keys that are actually busy.
_MIN_SWEEP_SIZE = 1024


def validate_request(limit: RateLimit, cost: int, *, max_wait: float | None = None) -> None:
    """Reject arguments no GCRA decision can make sense of; ``max_wait=None`` means check mode.

    Shared by every backend so that they fail alike.
    """
    if not (limit.rate > 0 and math.isfinite(limit.rate)):
        raise ValueError(f"rate must be a positive finite number, got {limit.rate!r}")
    if limit.burst < 1:
        raise ValueError(f"burst must be at least 1, got {limit.burst!r}")
    if cost < 1:
        raise ValueError(f"cost must be at least 1, got {cost!r}")
    # In check mode a request larger than the burst could never pass, however long it waited: a denial
    # with a Retry-After would make the caller loop forever, so this is a caller bug, not a 429.
    if max_wait is None:
        if cost > limit.burst:
            raise ValueError(f"cost {cost} exceeds burst {limit.burst}: check() could never allow it")
    elif not max_wait >= 0:  # also rejects NaN, which would otherwise allow any wait
        raise ValueError(f"max_wait must be >= 0, got {max_wait!r}")


class MemoryLimiter:
    """GCRA limiter for one process and one event loop; the ``Limiter`` port's in-memory twin.

    No lock is needed: ``check`` and ``reserve`` never await between reading and writing a key's TAT, so
    each decision runs to completion on the event loop without interleaving. An instance must therefore
    not be shared between threads (or event loops in different threads).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._sweep_at = _MIN_SWEEP_SIZE
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, key: str, limit: RateLimit, *, cost: int = 1) -> Decision:
        """Take ``cost`` slots now, or deny with the time after which they would be available."""
        validate_request(limit, cost)
        interval = 1.0 / limit.rate
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + cost * interval
        wait = new_tat - limit.burst * interval - now
        if wait > 0:
            return Decision(allowed=False, wait=wait)
        self._store(key, new_tat)
        return Decision(allowed=True, wait=0.0)

    async def reserve(self, key: str, limit: RateLimit, *, cost: int = 1, max_wait: float) -> Decision:
        """Take the next ``cost`` slots and return the wait until the first one; deny past ``max_wait``."""
        validate_request(limit, cost, max_wait=max_wait)
        interval = 1.0 / limit.rate
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        wait = max(0.0, tat - (limit.burst - 1) * interval - now)
        if wait > max_wait:
            return Decision(allowed=False, wait=wait)
        self._store(key, tat + cost * interval)
        return Decision(allowed=True, wait=wait)

    async def reset(self, key: str) -> None:
        """Forget the key's state (a configuration was removed or its rate changed)."""
        self._tat.pop(key, None)

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str, *, ttl: float) -> AsyncIterator[None]:
        """Hold ``key``'s mutex (one process: an ``asyncio.Lock``; ``ttl`` matters only across processes)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield

    async def close(self) -> None:
        """Drop every key (nothing else to release)."""
        self._tat.clear()

    def __len__(self) -> int:
        """Number of keys currently held (idle ones may linger until the next sweep)."""
        return len(self._tat)

    def _store(self, key: str, tat: float) -> None:
        self._tat[key] = tat
        if len(self._tat) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        # A key whose TAT has passed behaves exactly like an absent key (tat = max(stored, now) = now), so
        # dropping it is lossless: eviction never changes a decision.
        now = self._clock()
        idle = [key for key, tat in self._tat.items() if tat <= now]
        for key in idle:
            del self._tat[key]
        self._sweep_at = max(_MIN_SWEEP_SIZE, 2 * len(self._tat))
