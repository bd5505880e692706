"""Group commit: items submitted by concurrent requests within a few milliseconds are written in one batch.

Each submitter waits until the batch holding its item is durable, so a caller that answers "accepted"
after ``submit`` returns never acknowledges something that is not stored. ``max_delay=0`` writes at once
and lets the items that arrive during a write form the next batch (lowest latency under any load); a
positive delay trades latency for fewer, bigger writes where nobody waits on the answer (the ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    """Collects items and writes each batch with one ``write(items)``; ``submit`` returns its result."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 512,
        max_delay: float = 0.002,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[R]] = []
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Add ``item`` to the current batch and wait until that batch is written."""
        (future,) = self._join((item,))
        return await future

    async def submit_all(self, items: Sequence[T]) -> list[R]:
        """``submit`` each item (same batch while it has room) and wait for all, without a task per item."""
        return [await future for future in self._join(items)]

    def _join(self, items: Sequence[T]) -> list[asyncio.Future[R]]:
        """Add ``items`` to the current batch, make sure a flush is coming; a future per item."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = [loop.create_future() for _ in items]
        self._items.extend(items)
        self._waiters.extend(futures)
        if len(self._items) >= self._max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        return futures

    async def _flush_soon(self) -> None:
        # Wait a little for company (or until the batch is full), then write everything gathered so far.
        # With no delay, requests already parsed in this turn of the loop join the first batch, and those
        # arriving while a batch is being written form the next one: batches grow with the load by themselves.
        if self._max_delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._max_delay)
        else:
            await asyncio.sleep(0)
        while self._items:
            items, waiters = self._items[: self._max_batch], self._waiters[: self._max_batch]
            del self._items[: self._max_batch], self._waiters[: self._max_batch]
            self._full.clear()
            await self._write_batch(items, waiters)

    async def _write_batch(self, items: list[T], waiters: list[asyncio.Future[R]]) -> None:
        try:
            results = await self._write(items)
        except Exception as error:  # every submitter of the batch learns that it failed
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for waiter, result in zip(waiters, results, strict=True):
            if not waiter.done():
                waiter.set_result(result)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (shutdown)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
