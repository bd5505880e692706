"""Message volumes per mode: counting accepted messages, monthly quotas, the usage report.

Counting happens at acceptance, which is what a quota gates: the intake's group commit adds a whole batch's
tallies to ``message_usage`` with one upsert right after the batch's queue write, before any 202 of the
batch is sent; an audience execution counts its recipients in the transaction that fans them out.

Enforcement must cost the high-throughput intake no database round trip per request, so each process keeps a
``UsageMeter``: per organization and month, the database's total (reloaded at most every ``refresh_seconds``,
served while a reload runs, see ``kit/cache.py``) plus what this process admitted since that reload began.
A process therefore sees the other processes' traffic at most ~2 x ``refresh_seconds`` late: across N API
processes a quota can be overshot by at most that long of the other processes' accepted traffic (and by
the batch in flight). Organizations without a quota (0, the default) skip the view entirely.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import structlog

from clarion.db.uow import UnitOfWork
from clarion.kit.cache import RefreshingCache
from clarion.kit.clock import iso_milli, utcnow
from clarion.models.tenancy import Organization
from clarion.tenancy.principal import Principal
from clarion.usage import repository
from clarion.usage.errors import InvalidRange, QuotaExhausted
from clarion.usage.schemas import (
    HIGH_THROUGHPUT,
    MODES,
    STANDARD,
    CurrentMonth,
    ModeUsage,
    MonthUsage,
    Quotas,
    Tally,
    UsageReport,
    Volume,
)

log = structlog.get_logger()

MAX_REPORT_MONTHS = 13
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
Month = tuple[int, int]


def quotas_of(principal: Principal) -> Quotas:
    """The caller's quotas, as its (cached) principal carries them."""
    return Quotas(
        org_id=principal.org_id,
        ims_org_id=principal.ims_org_id,
        standard=principal.standard_monthly_quota,
        high_throughput=principal.high_throughput_monthly_quota,
        mode=principal.quota_mode,
    )


def organization_quotas(org: Organization) -> Quotas:
    """An organization row's quotas (CLI, metrics)."""
    return Quotas(
        org_id=org.id,
        ims_org_id=org.ims_org_id,
        standard=org.standard_monthly_quota,
        high_throughput=org.high_throughput_monthly_quota,
        mode=org.quota_mode,
    )


def month_bounds(month: Month) -> tuple[date, date]:
    """First and last day of a month."""
    first = date(month[0], month[1], 1)
    return first, _next_month_start(first) - timedelta(days=1)


def _next_month_start(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def month_reset(now: datetime) -> datetime:
    """When the next month starts (UTC midnight): quotas are whole again."""
    return datetime.combine(_next_month_start(now.date()), datetime.min.time(), UTC)


def seconds_until_reset(now: datetime) -> float:
    """Seconds until the next month starts: the ``Retry-After`` of a spent quota."""
    return (month_reset(now) - now).total_seconds()


def exhausted(quotas: Quotas, mode: str, used: int, messages: int, now: datetime) -> QuotaExhausted:
    """The 429 naming the spent quota, with the numbers and when it resets."""
    quota = quotas.of(mode)
    retry_after = seconds_until_reset(now)
    resets_at = iso_milli(month_reset(now))
    error = QuotaExhausted(
        f"The organization's monthly {mode} message quota of {quota} is spent: {used} used, "
        f"{max(0, quota - used)} remaining, this request has {messages}; it resets at {resets_at}",
        retry_after=retry_after,
    )
    error.context = {
        "quota": f"{mode} monthly messages",
        "limit": quota,
        "used": used,
        "remaining": max(0, quota - used),
        "requested": messages,
        "resetsAt": resets_at,
    }
    return error


@dataclass(slots=True)
class _View:
    """The database's month total per mode, and this process's admitted counts when it was read."""

    stored: dict[str, int]
    admitted_then: dict[str, int]


class UsageMeter:
    """Per-process quota gate and usage writer of the intake; see the module docstring for the bound."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], *, refresh_seconds: float = 1.0) -> None:
        self._unit_of_work = unit_of_work
        self._refresh_seconds = refresh_seconds
        self._views: RefreshingCache[tuple[str, Month], _View] = RefreshingCache()
        self._admitted: dict[tuple[str, Month], dict[str, int]] = {}
        self._flagged: set[tuple[str, Month, str]] = set()
        self._unwritten: list[Tally] = []

    async def admit(self, principal: Principal, mode: str, messages: int, now: datetime) -> Tally:
        """The tally of an accepted request; ``QuotaExhausted`` (hard mode) if it would pass the quota."""
        quota = (
            principal.high_throughput_monthly_quota
            if mode == HIGH_THROUGHPUT
            else principal.standard_monthly_quota
        )
        day = now.date()
        if quota > 0:
            await self._gate(principal, mode, messages, quota, now)
        return Tally(principal.org_id, principal.sandbox_id, mode, day, messages)

    async def _gate(self, principal: Principal, mode: str, messages: int, quota: int, now: datetime) -> None:
        key = (principal.org_id, (now.year, now.month))
        admitted = self._admitted.get(key)
        if admitted is None:
            admitted = self._start_month(key)
        view = await self._views.get(key, lambda: self._load(key, admitted))
        used = view.stored.get(mode, 0) + admitted.get(mode, 0) - view.admitted_then.get(mode, 0)
        if used + messages > quota:
            if principal.quota_mode != "soft":
                raise exhausted(quotas_of(principal), mode, used, messages, now)
            self._flag(principal, key, mode, used + messages, quota)
        admitted[mode] = admitted.get(mode, 0) + messages

    def _start_month(self, key: tuple[str, Month]) -> dict[str, int]:
        # A new month for this organization: the previous months' counts are of no further use.
        for old in [other for other in self._admitted if other[0] == key[0]]:
            del self._admitted[old]
        admitted: dict[str, int] = {}
        self._admitted[key] = admitted
        return admitted

    async def _load(self, key: tuple[str, Month], admitted: dict[str, int]) -> tuple[_View, float]:
        # Counts admitted from here on are added on top of the stored total read below.
        admitted_then = dict(admitted)
        first, last = month_bounds(key[1])
        async with self._unit_of_work() as uow:
            stored = await repository.totals_by_mode(uow.session, key[0], first, last)
        return _View(stored, admitted_then), self._refresh_seconds

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

    async def record(self, tallies: Sequence[Tally]) -> None:
        """Add a group-commit batch's tallies to the counters with one upsert.

        Called after the batch's jobs are durable: if this write fails the jobs are still accepted, so the
        tallies are kept and written with the next batch (lost only if the process dies meanwhile).
        """
        pending = [*self._unwritten, *tallies]
        self._unwritten = []
        try:
            async with self._unit_of_work() as uow:
                await repository.add(uow.session, pending)
                await uow.commit()
        except Exception:
            self._unwritten = pending
            log.exception("usage.write_failed", tallies=len(pending))

    def forget(self) -> None:
        """Drop the cached month totals (tests; a quota or the counters changed behind the process)."""
        self._views.forget()


async def count(uow: UnitOfWork, tallies: Sequence[Tally]) -> None:
    """Add tallies in the caller's transaction (audience fan-out); the caller commits."""
    await repository.add(uow.session, tallies)


async def check_available(uow: UnitOfWork, principal: Principal, mode: str, messages: int) -> None:
    """Read-through quota check for low-rate paths (audience executions): ``QuotaExhausted`` in hard mode."""
    quota = quotas_of(principal)
    if quota.of(mode) <= 0 or quota.mode == "soft":
        return
    now = utcnow()
    first, last = month_bounds((now.year, now.month))
    used = (await repository.totals_by_mode(uow.session, principal.org_id, first, last)).get(mode, 0)
    if used + messages > quota.of(mode):
        raise exhausted(quota, mode, used, messages, now)


def parse_range(start: str | None, end: str | None, now: datetime) -> tuple[Month, Month]:
    """``from``/``to`` months (``YYYY-MM``, default: the current month), at most 13 months, in order."""
    current = (now.year, now.month)
    first = _parse_month("from", start) if start is not None else None
    last = _parse_month("to", end) if end is not None else None
    first, last = first or (last or current), last or max(first or current, current)
    if last < first:
        raise InvalidRange(f"to: {_label(last)} is before from {_label(first)}")
    months = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    if months > MAX_REPORT_MONTHS:
        raise InvalidRange(
            f"to: the range {_label(first)}..{_label(last)} spans {months} months; at most "
            f"{MAX_REPORT_MONTHS} are allowed"
        )
    return first, last


def _parse_month(name: str, value: str) -> Month:
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 9999:
        raise InvalidRange(f"{name}: must be a month as YYYY-MM between 2000-01 and 9999-12 (got {value!r})")
    return int(match.group(1)), int(match.group(2))


def _label(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


async def report(
    uow: UnitOfWork, quotas: Quotas, start: str | None, end: str | None, *, now: datetime | None = None
) -> UsageReport:
    """Messages per mode per day and per month of ``from``..``to``, and the current month against quotas."""
    now = now or utcnow()
    first_month, last_month = parse_range(start, end, now)
    first, last = month_bounds(first_month)[0], month_bounds(last_month)[1]
    days: dict[str, dict[str, int]] = {}
    months: dict[str, dict[str, int]] = {}
    for day, mode, messages in await repository.daily(uow.session, quotas.org_id, first, last):
        for bucket, period in ((days, day.isoformat()), (months, day.isoformat()[:7])):
            counts = bucket.setdefault(period, {})
            counts[mode] = counts.get(mode, 0) + messages
    current_first, current_last = month_bounds((now.year, now.month))
    used = await repository.totals_by_mode(uow.session, quotas.org_id, current_first, current_last)
    return UsageReport(
        orgId=quotas.ims_org_id,
        quotaMode=quotas.mode,
        from_=_label(first_month),
        to=_label(last_month),
        currentMonth=CurrentMonth(
            month=_label((now.year, now.month)),
            resetsAt=iso_milli(month_reset(now)),
            standard=_mode_usage(used.get(STANDARD, 0), quotas.standard),
            highThroughput=_mode_usage(used.get(HIGH_THROUGHPUT, 0), quotas.high_throughput),
        ),
        months=[_volume(period, counts) for period, counts in sorted(_every_month(months, first, last))],
        days=[_volume(period, counts) for period, counts in sorted(days.items())],
    )


def _every_month(
    found: dict[str, dict[str, int]], first: date, last: date
) -> list[tuple[str, dict[str, int]]]:
    """Every month of the range, zero where nothing was sent (a bar chart needs the empty months too)."""
    rows = []
    month = first
    while month <= last:
        rows.append((month.isoformat()[:7], found.get(month.isoformat()[:7], {})))
        month = _next_month_start(month)
    return rows


def _volume(period: str, counts: dict[str, int]) -> Volume:
    return Volume(
        period=period, standard=counts.get(STANDARD, 0), highThroughput=counts.get(HIGH_THROUGHPUT, 0)
    )


def _mode_usage(used: int, quota: int) -> ModeUsage:
    if quota <= 0:
        return ModeUsage(used=used, quota=None, remaining=None, overQuota=0)
    return ModeUsage(used=used, quota=quota, remaining=max(0, quota - used), overQuota=max(0, used - quota))


async def current_month(
    uow: UnitOfWork, organizations: Sequence[Organization], *, now: datetime | None = None
) -> list[MonthUsage]:
    """Every organization's messages this month per mode, with its quotas (the Prometheus gauges)."""
    now = now or utcnow()
    first, last = month_bounds((now.year, now.month))
    used = await repository.all_organizations(uow.session, first, last)
    return [
        MonthUsage(
            ims_org_id=org.ims_org_id,
            used={mode: used.get(org.id, {}).get(mode, 0) for mode in MODES},
            quotas=organization_quotas(org),
        )
        for org in organizations
    ]
