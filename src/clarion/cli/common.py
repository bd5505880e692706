"""Helpers shared by CLI commands: settings from flags, the backends of one command, readable errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
import uvloop
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from clarion.config import Settings, SettingsError, describe_invalid
from clarion.container import Container
from clarion.db.migrate import upgrade
from clarion.errors import ClarionError
from clarion.services import Services, open_services

T = TypeVar("T")
# Piped output (scripts, CI logs) gets wide lines instead of 80-column folding.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def load_settings(**overrides: Any) -> Settings:
    """Settings from ``CLARION_*`` with the flags that were given on top; a wrong one exits with one line."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        for line in describe_invalid(error):
            err_console.print(f"[red]error:[/red] {line}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit 1 (user mistakes never end in a traceback)."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def run_with_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work`` with a container (migrating first when embedded); print domain errors, exit 1."""

    async def main() -> T:
        container = Container.build(settings)
        try:
            return await work(container)
        finally:
            await container.close()

    return _run(settings, main)


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Like ``run_with_container``, for commands that need the domain runtime too (the worker)."""

    async def main() -> T:
        async with open_services(settings) as services:
            return await work(services)

    return _run(settings, main)


def _run(settings: Settings, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        settings.require_secret_key()
    except SettingsError as error:
        fail(str(error))
    if settings.should_migrate:
        upgrade(settings.database_url)
    try:
        # uvloop: the worker's event loop is its hot path (SMTP, queue, ledger I/O); uvicorn uses it too.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    except ClarionError as error:
        fail(error.detail)
    except SettingsError as error:
        fail(str(error))


def byte_progress() -> Progress:
    """The bar of an import: bytes of the file read (on stderr, so that the summary on stdout stays clean)."""
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
