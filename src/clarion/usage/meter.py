"""The intake's quota gate and usage writer: one ``UsageMeter`` per process (``services.py`` builds it).

Counting happens at acceptance, which is what a quota gates. The intake hands the meter the tallies of each
group-commit batch once its jobs are durable, and the meter writes everything accepted meanwhile with one
upsert every ``flush_seconds``: an upsert per batch cost the embedded intake about a third more CPU per
request (``bench/trigger.py``). A process killed with SIGKILL thus leaves its last ``flush_seconds`` of
messages uncounted (they are still delivered: the error is in the customer's favour); a clean stop writes
them.

Enforcement costs the intake no database round trip per request: per organization and month, the meter
holds the database's total (reloaded in the background once it is ``refresh_seconds`` old, the last one
serving meanwhile) plus what this process admitted that the total cannot contain yet. Another process's
traffic reaches the view at most ~``flush_seconds + refresh_seconds`` + one reload late, which bounds the
overshoot of a quota across N API processes to that long of the other processes' traffic. Organizations
without a quota (0, the default) skip the view entirely.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import structlog

from clarion.db.uow import UnitOfWork
from clarion.tenancy.principal import Principal
from clarion.usage import repository
from clarion.usage.schemas import HIGH_THROUGHPUT, Tally
from clarion.usage.service import Month, exhausted, month_bounds, quotas_of

log = structlog.get_logger()


@dataclass(slots=True)
class _View:
    """The database's month total per mode, and how much of it this process had written when it was read."""

    stored: dict[str, int]
    written_then: dict[str, int]


@dataclass(slots=True)
class _Month:
    """One organization's month in this process: messages admitted, and of those written; the last view."""

    admitted: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    view: _View | None = None
    fresh_until: float = 0.0
    loading: asyncio.Task[None] | None = None


class UsageMeter:
    """Per-process quota gate and usage writer of the intake; see the module docstring for the bounds."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        refresh_seconds: float = 1.0,
        flush_seconds: float = 0.25,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._refresh_seconds = refresh_seconds
        self._flush_seconds = flush_seconds
        self._months: dict[tuple[str, Month], _Month] = {}
        self._flagged: set[tuple[str, Month, str]] = set()
        self._pending: dict[tuple[str, str, str, date], int] = {}
        """Messages accepted and not yet written, per (organization, sandbox, mode, day)."""
        self._flusher: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    def admit(
        self, principal: Principal, mode: str, messages: int, now: datetime
    ) -> Awaitable[Tally] | Tally:
        """The tally of an accepted request; ``QuotaExhausted`` (hard mode) if it would pass the quota.

        Answered at once from memory (no coroutine on the intake path); only an organization's first
        request of the month in this process gets an awaitable, which reads the month's usage first.
        """
        tally = Tally(principal.org_id, principal.sandbox_id, mode, now.date(), messages)
        quota = (
            principal.high_throughput_monthly_quota
            if mode == HIGH_THROUGHPUT
            else principal.standard_monthly_quota
        )
        if quota <= 0:
            return tally
        key = (principal.org_id, (now.year, now.month))
        month = self._months.get(key) or self._start_month(key)
        if month.view is None:
            return self._first_gate(principal, tally, quota, now, key, month)
        if time.monotonic() >= month.fresh_until:
            self._reload(key, month)  # in the background: until it lands, the last view serves
        self._gate(principal, tally, quota, now, month, month.view)
        return tally

    async def _first_gate(
        self,
        principal: Principal,
        tally: Tally,
        quota: int,
        now: datetime,
        key: tuple[str, Month],
        month: _Month,
    ) -> Tally:
        # shield: one caller going away must not cancel the load the others wait for.
        await asyncio.shield(self._reload(key, month))
        assert month.view is not None
        self._gate(principal, tally, quota, now, month, month.view)
        return tally

    def _gate(
        self, principal: Principal, tally: Tally, quota: int, now: datetime, month: _Month, view: _View
    ) -> None:
        mode, messages = tally.mode, tally.messages
        # The stored total, plus what this process admitted that the stored total cannot hold yet.
        used = view.stored.get(mode, 0) + month.admitted.get(mode, 0) - view.written_then.get(mode, 0)
        if used + messages > quota:
            if principal.quota_mode != "soft":
                raise exhausted(quotas_of(principal), mode, used, messages, now)
            self._flag(principal, (principal.org_id, (now.year, now.month)), mode, used + messages, quota)
        month.admitted[mode] = month.admitted.get(mode, 0) + messages

    def _start_month(self, key: tuple[str, Month]) -> _Month:
        # A new month for this organization: the previous months' counts are of no further use.
        for old in [other for other in self._months if other[0] == key[0]]:
            del self._months[old]
        month = self._months[key] = _Month()
        return month

    def _reload(self, key: tuple[str, Month], month: _Month) -> asyncio.Task[None]:
        """The running reload of the month's stored total, or a new one (one at a time)."""
        if month.loading is None or month.loading.done():
            month.loading = asyncio.ensure_future(self._load(key, month))
        return month.loading

    async def _load(self, key: tuple[str, Month], month: _Month) -> None:
        # Read before the query: a write landing during the query is then counted twice until the next
        # reload (a refusal slightly early), never missed.
        written_then = dict(month.written)
        first, last = month_bounds(key[1])
        try:
            async with self._unit_of_work() as uow:
                stored = await repository.totals_by_mode(uow.session, key[0], first, last)
        except Exception:
            if month.view is None:
                raise  # the first request of the month learns it (its caller awaits this load)
            # The database is away: keep gating on the last total read rather than refuse everything.
            log.warning("usage.reload_failed", exc_info=True)
        else:
            month.view = _View(stored, written_then)
        month.fresh_until = time.monotonic() + self._refresh_seconds

    def _flag(self, principal: Principal, key: tuple[str, Month], mode: str, used: int, quota: int) -> None:
        # Soft mode: accepted all the same; one warning per process, organization, month and mode (the
        # overage itself is in the usage report and the clarion_messages_over_quota gauge).
        if (key[0], key[1], mode) in self._flagged:
            return
        self._flagged.add((key[0], key[1], mode))
        log.warning(
            "quota.exceeded",
            org=principal.ims_org_id,
            mode=mode,
            quota=quota,
            used=used,
            quota_mode="soft",
        )

    def record(self, tallies: Sequence[Tally]) -> None:
        """Count a batch whose jobs are durable: its tallies are written within ``flush_seconds``."""
        pending = self._pending
        for tally in tallies:
            key = (tally.org_id, tally.sandbox_id, tally.mode, tally.day)
            pending[key] = pending.get(key, 0) + tally.messages
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    def release(self, tallies: Sequence[Tally]) -> None:
        """Give back what ``admit`` reserved for requests that were not accepted after all (queue failure)."""
        for tally in tallies:
            month = self._months.get((tally.org_id, (tally.day.year, tally.day.month)))
            if month is not None and tally.mode in month.admitted:
                month.admitted[tally.mode] -= tally.messages

    async def _flush_soon(self) -> None:
        # One upsert per interval however many batches were accepted meanwhile: a write per batch cost the
        # embedded intake a third of its CPU per request (bench/README.md, bench.trigger).
        while self._pending:
            await asyncio.sleep(self._flush_seconds)
            # Shielded: stopping the flusher (drain) must not abandon a write half done.
            self._writing = asyncio.ensure_future(self.flush())
            await asyncio.shield(self._writing)

    async def flush(self) -> None:
        """Write every pending tally now (shutdown, tests); a failed write keeps them for the next try."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        tallies = [Tally(*key, messages) for key, messages in pending.items()]
        try:
            async with self._unit_of_work() as uow:
                await repository.add(uow.session, tallies)
                await uow.commit()
        except Exception:
            self.record(tallies)  # kept for the next write, with what arrived meanwhile
            log.exception("usage.write_failed", counters=len(tallies))
            return
        for tally in tallies:
            month = self._months.get((tally.org_id, (tally.day.year, tally.day.month)))
            if month is not None:
                month.written[tally.mode] = month.written.get(tally.mode, 0) + tally.messages

    async def drain(self) -> None:
        """Write what is pending and stop the flusher (shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._writing is not None:
            await self._writing
        await self.flush()
