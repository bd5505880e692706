"""``clarion suppressions import|export``: the suppression list of a sandbox as CSV."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO, get_args

import typer

from clarion.cli.common import byte_progress, console, err_console, fail, load_settings, run_with_container
from clarion.cli.scope import command_principal
from clarion.container import Container
from clarion.suppressions import csvfile
from clarion.suppressions.schemas import ListFilters, Reason

suppressions_app = typer.Typer(
    help="The suppression list (addresses never sent to): CSV import and export.", no_args_is_help=True
)

_REASONS = get_args(Reason)
OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="IMS org id or exact name [default: the development organization]"),
]
SandboxOption = Annotated[str, typer.Option(help="Sandbox name")]


def _reason(value: str | None) -> str | None:
    if value is not None and value not in _REASONS:
        raise typer.BadParameter(f"must be one of {', '.join(_REASONS)}")
    return value


@suppressions_app.command("import")
def import_suppressions(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with an 'address' column (optional: reason, category, detail), or one address a line",
        ),
    ],
    reason: Annotated[
        str, typer.Option(help=f"Reason of rows that name none ({', '.join(_REASONS)})", callback=_reason)
    ] = "manual",
    org: OrgOption = None,
    sandbox: SandboxOption = "prod",
) -> None:
    """Add the addresses of FILE to the list; bad rows are reported by line (exit 1) and the rest added."""
    settings = load_settings()

    async def work(container: Container) -> tuple[csvfile.ImportSummary, float]:
        principal = await command_principal(container, org, sandbox)
        started = time.perf_counter()
        with file.open("rb") as raw, byte_progress() as progress:
            counted = _Counted(raw)
            task = progress.add_task("starting", total=file.stat().st_size)

            def advance(summary: csvfile.ImportSummary) -> None:
                progress.update(task, completed=counted.read_bytes, description=f"{summary.rows:,} rows")

            summary = await csvfile.import_rows(
                container.unit_of_work,
                principal.org_id,
                principal.sandbox_id,
                csvfile.parse(_lines(counted), default_reason=reason),  # type: ignore[arg-type]
                after_batch=advance,
            )
            progress.update(task, completed=file.stat().st_size, description=f"{summary.rows:,} rows")
        return summary, time.perf_counter() - started

    try:
        summary, seconds = run_with_container(settings, work)
    except UnicodeDecodeError as error:
        fail(f"{file}: not UTF-8 text (byte {error.start} of a read): save the CSV as UTF-8")
    rate = summary.rows / seconds if seconds > 0 else 0.0
    failed = f"[red]{summary.failed:,} failed[/red]" if summary.failed else "0 failed"
    console.print(
        f"{summary.rows:,} rows in {seconds:.1f} s ({rate:,.0f}/s): [green]{summary.added:,} added[/green], "
        f"{summary.existing:,} already suppressed, {failed}"
    )
    for line, problem in summary.errors:
        console.print(f"  line {line}: {problem}", markup=False, highlight=False)
    hidden = summary.failed - len(summary.errors)
    if hidden > 0:
        console.print(f"  … and {hidden:,} more failed rows")
    if summary.failed:
        raise typer.Exit(1)


@suppressions_app.command("export")
def export_suppressions(
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write here [default: standard output]")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason", callback=_reason)] = None,
    category: Annotated[str | None, typer.Option(help='Only this category ("" for every-category)')] = None,
    source: Annotated[str | None, typer.Option(help="Only entries added by this source")] = None,
    org: OrgOption = None,
    sandbox: SandboxOption = "prod",
) -> None:
    """Write the list as CSV: address, reason, category, source, detail, created (oldest first)."""
    settings = load_settings()
    filters = ListFilters(reason=reason, category=category, source=source)

    async def work(container: Container) -> int:
        principal = await command_principal(container, org, sandbox)
        target = out.open("w", encoding="utf-8", newline="") if out is not None else sys.stdout
        count = 0
        try:
            async with container.unit_of_work() as uow:
                async for lines in csvfile.export_lines(
                    uow.session, principal.org_id, principal.sandbox_id, filters
                ):
                    target.writelines(lines)
                    count += len(lines)
        finally:
            if out is not None:
                target.close()
        return count - 1  # the header

    started = time.perf_counter()
    count = run_with_container(settings, work)
    where = f" to {out}" if out is not None else ""
    err_console.print(f"{count:,} entries exported{where} in {time.perf_counter() - started:.1f} s")


class _Counted(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress bar's position)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


def _lines(raw: _Counted) -> Iterator[str]:
    """The text lines of the file (UTF-8, a BOM dropped, line ends kept for the CSV reader)."""
    yield from io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")
