"""``clarion usage``: an organization's message volumes per mode against its monthly quotas."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clarion.cli.common import console, load_settings, run_with_container
from clarion.container import Container
from clarion.tenancy import service as tenancy
from clarion.usage import service
from clarion.usage.schemas import ModeUsage, UsageReport, Volume


def usage(
    org: Annotated[str, typer.Option("--org", help="IMS org id (…@AdobeOrg) or exact name")],
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM (default: --to)")] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last month, YYYY-MM (default: this month; at most 13)")
    ] = None,
    days: Annotated[bool, typer.Option("--days", help="Also list every day with messages")] = False,
) -> None:
    """Messages per mode per month (and day), and this month against the quotas."""

    async def work(container: Container) -> UsageReport:
        async with container.unit_of_work() as uow:
            found = await tenancy.find_organization(uow, org)
            return await service.report(uow, service.organization_quotas(found), start, end)

    report = run_with_container(load_settings(), work)
    console.print(_current(report))
    console.print(_volumes("Month", report.months, f"Messages per month, {report.from_}..{report.to}"))
    if days:
        console.print(_volumes("Day (UTC)", report.days, "Messages per day"))


def _current(report: UsageReport) -> Table:
    month = report.currentMonth
    table = Table(
        "Mode",
        "Used",
        "Quota",
        "Remaining",
        "Over quota",
        title=f"{report.orgId}, {month.month} ({report.quotaMode} quotas, reset {month.resetsAt})",
    )
    for name, mode in (("standard", month.standard), ("high throughput", month.highThroughput)):
        table.add_row(name, f"{mode.used:,}", *_limits(mode))
    return table


def _limits(mode: ModeUsage) -> tuple[str, str, str]:
    if mode.quota is None:
        return "unlimited", "-", "-"
    over = f"[red]{mode.overQuota:,}[/red]" if mode.overQuota else "0"
    return f"{mode.quota:,}", f"{mode.remaining or 0:,}", over


def _volumes(label: str, rows: list[Volume], title: str) -> Table:
    table = Table(label, "Standard", "High throughput", title=title)
    for row in rows:
        table.add_row(row.period, f"{row.standard:,}", f"{row.highThroughput:,}")
    return table
