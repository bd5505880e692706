"""``clarion doctor``: check the installation (database, migrations, queue, persistence, key, relays)."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from clarion.cli.common import console, err_console, load_settings
from clarion.ops.doctor import Finding, Status, examine

_STYLE = {Status.OK: "green", Status.SKIP: "dim", Status.WARN: "yellow", Status.FAIL: "red"}


def doctor() -> None:
    """Check that this installation can serve: one line per check with a fix; exit code 1 on any problem."""
    findings = asyncio.run(examine(load_settings()))
    console.print(_table(findings))
    problems = [finding for finding in findings if finding.is_problem]
    if problems:
        err_console.print(f"[red]{len(problems)} problem(s)[/red]: fix them before serving traffic")
        raise typer.Exit(1)
    console.print("[green]no problem found[/green]")


def _table(findings: list[Finding]) -> Table:
    table = Table("Check", "Status", "Detail", "Fix")
    for column in table.columns:
        column.overflow = "fold"
    for finding in findings:
        style = _STYLE[finding.status]
        table.add_row(
            finding.check, f"[{style}]{finding.status.value}[/{style}]", finding.detail, finding.hint
        )
    return table
