"""The shared rate limiter port: GCRA (generic cell rate algorithm) with two modes.

- ``check``: take ``cost`` slots now if the key is within its rate (plus burst), else deny and say when
  to retry. Used for request caps (429 + Retry-After).
- ``reserve``: always take the next ``cost`` slots and say how long to wait until the first of them
  (slot *i* starts ``i / rate`` seconds after the first). Denies, taking nothing, only when the wait would
  exceed ``max_wait``. Used to pace outbound calls across every process.

Implementations: in-memory (one process) and Redis (one Lua script; Redis ``TIME`` is the shared clock).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` slots per second; ``burst`` slots may be taken at once on top of the steady rate.

    Burst must be at least ~1 % of the rate: with burst 1, scheduling jitter loses a third of the capacity.
    """

    rate: float
    burst: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed``: slots were taken. ``wait``: seconds until the (first) slot (reserve), or until a
    retry could pass (check, when denied)."""

    allowed: bool
    wait: float


def default_burst(rate: float) -> int:
    """Burst tolerance that keeps GCRA accurate under concurrency: 1 % of the rate, at least 1."""
    return max(1, int(rate / 100))


class Limiter(Protocol):
    """A GCRA limiter keyed by string; every process that shares the backend shares the rate."""

    async def check(self, key: str, limit: RateLimit, *, cost: int = 1) -> Decision:
        """Take ``cost`` slots now, or deny with the time after which they would be available."""
        ...

    async def reserve(self, key: str, limit: RateLimit, *, cost: int = 1, max_wait: float) -> Decision:
        """Take the next ``cost`` slots and return the wait until the first one; deny past ``max_wait``."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the key's state (a configuration was removed or its rate changed)."""
        ...

    def exclusive(self, key: str, *, ttl: float) -> AbstractAsyncContextManager[None]:
        """Hold ``key``'s mutex, shared by every process on the backend; a dead holder's lapses after ``ttl``.

        Lets callers that take slots *and* something else (the throttle takes queued calls and their slots)
        do both as one step, so that the order of one is the order of the other.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
