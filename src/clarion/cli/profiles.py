"""``clarion profiles import``: bulk import of JSON-lines or CSV profile files (plain or gzip)."""

from __future__ import annotations

import enum
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from clarion.cli.common import console, err_console, load_settings, run_with_container
from clarion.container import Container
from clarion.ops.tuning import rare_collections
from clarion.profiles.importer import DEFAULT_BATCH_SIZE, ImportSummary, import_lines
from clarion.profiles.sources import ImportFile
from clarion.tenancy import service as tenancy
from clarion.tenancy.bootstrap import DEV_ORG_NAME, ensure_dev_credentials
from clarion.tenancy.errors import OrganizationNotFound
from clarion.tenancy.principal import Principal, job_principal

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
        with ImportFile(file, fmt) as source, _progress() as progress:
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


def _progress() -> Progress:
    """A bar of bytes read (on stderr, so that the summary on stdout stays clean)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


async def command_principal(container: Container, org: str | None, sandbox_name: str) -> Principal:
    """Who a command writes for: the organization and sandbox named on the command line (also used by
    `clarion suppressions`)."""
    reference = org or await _default_org(container)
    async with container.unit_of_work() as uow:
        try:
            organization = await tenancy.find_organization(uow, reference)
        except OrganizationNotFound as error:
            if org is not None:
                raise
            raise OrganizationNotFound(
                f"{error.detail}: run `clarion serve` once to create the development organization, "
                "or give --org"
            ) from None
        scope = replace(
            job_principal(organization.id, ""),
            ims_org_id=organization.ims_org_id,
            technical_account="clarion-cli",
        )
        found = await tenancy.get_sandbox(uow, scope, sandbox_name)
    return replace(scope, sandbox_id=found.id, sandbox_name=found.name, sandbox_type=found.type)


async def _default_org(container: Container) -> str:
    """The development organization: created as ``serve`` does when embedded (so that a newcomer's first
    import works before the first ``serve``), else the one in ``credentials.json`` or named Development.
    """
    if container.settings.embedded:
        return (await ensure_dev_credentials(container)).orgId
    try:
        return str(json.loads(container.settings.credentials_path.read_text())["orgId"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEV_ORG_NAME


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
