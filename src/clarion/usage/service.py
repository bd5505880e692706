"""Message volumes per mode: quotas, the read-through check of low-rate paths, the usage report and gauges.

What the intake uses per request, the in-process ``UsageMeter``, is in ``meter.py`` (with the bounds of
its counting and gating). Audience executions are checked here at submission and counted in the
transaction that fans them out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from clarion.db.uow import UnitOfWork
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


async def count(uow: UnitOfWork, tallies: Sequence[Tally]) -> None:
    """Add tallies in the caller's transaction (audience fan-out); the caller commits."""
    await repository.add(uow.session, tallies)


async def check_available(uow: UnitOfWork, quotas: Quotas, mode: str, messages: int) -> None:
    """Read-through quota check for low-rate paths (audience executions): ``QuotaExhausted`` in hard mode."""
    if quotas.of(mode) <= 0 or quotas.mode == "soft":
        return
    now = utcnow()
    first, last = month_bounds((now.year, now.month))
    used = (await repository.totals_by_mode(uow.session, quotas.org_id, first, last)).get(mode, 0)
    if used + messages > quotas.of(mode):
        raise exhausted(quotas, mode, used, messages, now)


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
        name = "to" if end is not None else "from"  # the parameter the caller gave
        raise InvalidRange(
            f"{name}: the range {_label(first)}..{_label(last)} spans {months} months; at most "
            f"{MAX_REPORT_MONTHS} are allowed (to defaults to this month)"
        )
    return first, last


def _parse_month(name: str, value: str) -> Month:
    match = _MONTH.match(value)
    # 9998-12 at the latest: the day after a range's last month must still be a date.
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 9998:
        raise InvalidRange(f"{name}: must be a month as YYYY-MM between 2000-01 and 9998-12 (got {value!r})")
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
