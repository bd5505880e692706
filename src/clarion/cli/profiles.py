"""``clarion profiles import``: bulk import of JSON-lines or CSV profile files (plain or gzip)."""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Annotated

import typer

from clarion.cli.common import byte_progress, console, load_settings, run_with_container
from clarion.cli.scope import command_principal
from clarion.container import Container
from clarion.ops.tuning import rare_collections
from clarion.profiles.importer import DEFAULT_BATCH_SIZE, ImportSummary, import_lines
from clarion.profiles.sources import ImportFile

profiles_app = typer.Typer(help="Profiles: bulk import.", no_args_is_help=True)


class FileFormat(enum.StrEnum):
    """Import file formats."""

    jsonl = "jsonl"
    csv = "csv"


@profiles_app.command("import")
def import_profiles(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON lines or CSV, optionally gzip"),
    ],
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="[default: from the extension]")
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="IMS org id or exact name [default: the development organization]"),
    ] = None,
    sandbox: Annotated[str, typer.Option(help="Sandbox name")] = "prod",
    batch_size: Annotated[
        int, typer.Option(min=1, max=200_000, help="Profiles per transaction")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Upsert the profiles of FILE (deep merge into existing ones); exit 1 when any line failed."""
    settings = load_settings()
    fmt = None if file_format is None else file_format.value

    async def work(container: Container) -> tuple[ImportSummary, float]:
        principal = await command_principal(container, org, sandbox)
        started = time.perf_counter()
        with ImportFile(file, fmt) as source, byte_progress() as progress:
            task = progress.add_task("starting", total=source.size)

            def advance(summary: ImportSummary) -> None:
                progress.update(task, completed=source.position(), description=f"{summary.lines:,} profiles")

            summary = await import_lines(
                container.unit_of_work,
                principal,
                source.lines(),
                batch_size=batch_size,
                after_batch=advance,
            )
            progress.update(task, completed=source.size)
        return summary, time.perf_counter() - started

    # A batch keeps tens of thousands of decoded documents alive; with the default thresholds the collector
    # walks them again and again. Measured on a 40k-line import: 3.3k → 4.5k profiles/s overall.
    with rare_collections():
        summary, seconds = run_with_container(settings, work)
    _print_summary(summary, seconds)
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(summary: ImportSummary, seconds: float) -> None:
    rate = summary.lines / seconds if seconds > 0 else 0.0
    console.print(
        f"{summary.lines:,} profiles in {seconds:.1f} s ({rate:,.0f}/s): "
        f"[green]{summary.created:,} created[/green], {summary.updated:,} updated, "
        f"{summary.unchanged:,} unchanged, "
        f"{'[red]' if summary.failed else ''}{summary.failed:,} failed{'[/red]' if summary.failed else ''}"
    )
    for line, reason in summary.errors:
        console.print(f"  line {line}: {reason}", markup=False, highlight=False)
    hidden = summary.failed - len(summary.errors)
    if hidden > 0:
        console.print(f"  … and {hidden:,} more failed lines")
