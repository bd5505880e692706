"""The suppression list in a worker's memory: the send path's check without a database read per message.

Per (organization, sandbox) a dict from lowercased address to the (reason, category) pairs in force, loaded
lazily at the first message of that sandbox (one streamed read) and kept fresh like the gateway's
``RevisionWatch``: when the last refresh is older than ``interval / 2`` a background refresh starts, when
it is older than ``interval`` the caller waits for it. A refresh reads the revision counters of every
sandbox held in ONE query and, for the sandboxes whose counter moved, only the rows stamped after the
revision held (one index range each; removals arrive as tombstones). A change committed by this process is
seen by its next message (``changes.py`` marks the sandbox stale; the next ``view`` waits for the delta).

Freshness bound: a change committed elsewhere stops sends here within ``interval`` plus one read (0.5 s by
default); nothing is read per message. If the database cannot be read, the last copy keeps being served
(nothing can be committed there meanwhile either) and the failure is logged.

Memory: each address costs its string and one dict slot; the tuples of (reason, category) hits are interned
(a handful of distinct combinations are shared by all addresses): 117 B per entry, 111 MB for 1,000,000
suppressed addresses in one sandbox, loaded in 5.3 s (``bench/suppressions.py`` measures it).
Sandboxes unused for ``idle_seconds`` are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from clarion.db.uow import UnitOfWork
from clarion.suppressions import changes, repository
from clarion.suppressions.addresses import normalize
from clarion.suppressions.matching import applies, precedence
from clarion.suppressions.schemas import Hit
from clarion.suppressions.service import TOMBSTONE_DAYS

log = structlog.get_logger()

REFRESH_SECONDS = 0.5
IDLE_SECONDS = 600.0
"""A sandbox not looked at for this long is dropped (memory) and loaded whole at its next message; it must
stay well below the tombstones' lifetime, or a removal could be missed by a delta."""
assert IDLE_SECONDS < TOMBSTONE_DAYS * 86_400

Pair = tuple[str, str]
Key = tuple[str, str]


class SuppressionSet:
    """One sandbox's list as the send path reads it."""

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[str, tuple[Hit, ...]]) -> None:
        self._entries = entries

    def check(self, address: str, campaign_category: str) -> Hit | None:
        """The entry that stops a message of a ``campaign_category`` campaign to ``address``, or None."""
        pairs = self._entries.get(normalize(address))
        if pairs is None:
            return None
        for hit in pairs:  # interned Hit tuples: a hit allocates nothing
            if applies(hit.reason, hit.category, campaign_category):
                return hit
        return None

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class _Held:
    entries: dict[str, tuple[Hit, ...]]
    revision: int
    used_at: float
    view: SuppressionSet = field(init=False)

    def __post_init__(self) -> None:
        self.view = SuppressionSet(self.entries)


class SuppressionCache:
    """Every sandbox's suppression list a worker process sends for, kept fresh within ``interval``."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        interval: float = REFRESH_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        local_changes: bool = True,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._interval = interval
        self._idle = idle_seconds
        self._clock = clock
        self._held: dict[Key, _Held] = {}
        self._loading: dict[Key, asyncio.Task[_Held]] = {}
        self._stale: set[Key] = set()
        self._checked_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None
        self._pairs: dict[tuple[Pair, ...], tuple[Hit, ...]] = {}
        if local_changes:  # off only to stand for another process in tests and benchmarks
            changes.listen(self)

    async def view(self, org_id: str, sandbox_id: str) -> SuppressionSet:
        """The sandbox's list, fresh within the bound; reads the database only to load or refresh."""
        key = (org_id, sandbox_id)
        now = self._clock()
        held = self._held.get(key)
        if held is None or now - held.used_at > self._idle:
            held = await self._load(key)
        held.used_at = now
        if key in self._stale:
            await self._refresh_now()
            return held.view
        age = now - self._checked_at
        if age >= self._interval / 2:
            task = self._refreshing or self._start_refresh()
            if age >= self._interval:
                await asyncio.shield(task)  # one caller going away must not cancel the others' read
        return held.view

    def invalidate(self, org_id: str, sandbox_id: str) -> None:
        """A change to this sandbox's list was committed in this process: the next view waits for it."""
        key = (org_id, sandbox_id)
        if key in self._held:
            self._stale.add(key)

    async def refresh(self) -> None:
        """Read what changed now (benchmarks, tests); the send path never needs to call this."""
        await self._refresh_now()

    def forget(self) -> None:
        """Drop every list (they load again at their next message)."""
        self._held.clear()
        self._stale.clear()

    async def close(self) -> None:
        """Wait for a refresh in flight."""
        task = self._refreshing
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    @property
    def sandboxes(self) -> int:
        """How many sandboxes' lists are held."""
        return len(self._held)

    # --- loading -----------------------------------------------------------------------------------------

    async def _load(self, key: Key) -> _Held:
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._read_whole(key))
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(task)

    async def _read_whole(self, key: Key) -> _Held:
        entries: dict[str, tuple[Hit, ...]] = {}
        single: dict[Pair, tuple[Hit, ...]] = {}  # most addresses have one entry: no list per address
        async with self._unit_of_work() as uow:
            # The counter first: rows changed while the list streams are read again by the next delta.
            revision = (await repository.revisions(uow.session, [key]))[key]
            async for partition in repository.live_pairs(uow.session, key):
                for address, reason, category in partition:
                    pair = (reason, category)
                    held = entries.get(address)
                    if held is None:
                        hits = single.get(pair)
                        if hits is None:
                            hits = single[pair] = self._intern([pair])
                        entries[address] = hits
                    else:
                        entries[address] = self._intern([*held, pair])
        loaded = _Held(entries, revision, self._clock())
        self._held[key] = loaded
        self._stale.discard(key)
        return loaded

    def _intern(self, pairs: Iterable[Pair]) -> tuple[Hit, ...]:
        """The shared tuple of these pairs, gravest first (few distinct combinations exist)."""
        ordered = tuple(sorted(set(pairs), key=lambda pair: (precedence(pair[0]), pair[1])))
        found = self._pairs.get(ordered)
        if found is None:
            found = self._pairs[ordered] = tuple(Hit(reason, category) for reason, category in ordered)
        return found

    # --- refreshing --------------------------------------------------------------------------------------

    def _start_refresh(self) -> asyncio.Task[None]:
        task = self._refreshing = asyncio.ensure_future(self._refresh())
        task.add_done_callback(self._refresh_done)
        return task

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        if self._refreshing is task:
            self._refreshing = None

    async def _refresh_now(self) -> None:
        """A refresh that starts after this call (a local change must be read, not one read before it)."""
        while True:
            running = self._refreshing
            if running is None or running.done():
                break
            await asyncio.shield(running)
        await asyncio.shield(self._start_refresh())

    async def _refresh(self) -> None:
        started = self._clock()
        self._drop_idle(started)
        stale, self._stale = self._stale, set()
        keys = list(self._held)
        try:
            async with self._unit_of_work() as uow:
                current = await repository.revisions(uow.session, keys)
                for key, revision in current.items():
                    held = self._held.get(key)
                    if held is None or revision == held.revision:
                        continue
                    self._apply(held, await repository.changes_since(uow.session, key, held.revision))
                    held.revision = revision
        except Exception as error:
            # Serve the copy held: nothing can be committed to the list while it cannot be read either.
            log.warning("suppressions.refresh_failed", error=repr(error))
            self._stale |= stale
            self._checked_at = started
            return
        self._checked_at = started

    def _apply(self, held: _Held, rows: Iterable[Any]) -> None:
        entries = held.entries
        for address, reason, category, removed in rows:
            pair = (reason, category)
            pairs = entries.get(address, ())
            if removed:
                kept = [other for other in pairs if other != pair]
                if kept:
                    entries[address] = self._intern(kept)
                else:
                    entries.pop(address, None)
            elif pair not in pairs:
                entries[address] = self._intern([*pairs, pair])

    def _drop_idle(self, now: float) -> None:
        for key in [key for key, held in self._held.items() if now - held.used_at > self._idle]:
            del self._held[key]
            self._stale.discard(key)
