"""``clarion serve``, ``clarion worker``, ``clarion migrate``."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from functools import partial
from typing import Annotated

import typer
import uvicorn

from clarion.app import create_app
from clarion.cli.common import console, fail, load_settings, run_with_container, run_with_services
from clarion.cli.console import sign_in_link
from clarion.config import Settings, SettingsError
from clarion.db.migrate import upgrade
from clarion.ops.logging import configure_logging
from clarion.ops.metrics import Metrics
from clarion.ops.tuning import tune_garbage_collector
from clarion.runtime import BackgroundServices
from clarion.services import Services
from clarion.tenancy.bootstrap import DevCredentials, ensure_dev_credentials

WORKER_START_SECONDS = 60
"""How long an API process of ``serve --workers N`` may take to start before uvicorn replaces it."""


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8080]")] = None,
    workers: Annotated[int, typer.Option(min=1, help="API processes (each also runs a queue worker)")] = 1,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Run a queue worker in each API process [default: on; off = API only, run `clarion worker`]",
        ),
    ] = None,
) -> None:
    """Run the API with its embedded worker (and, on SQLite, the SMTP capture server) in this process."""
    settings = load_settings(host=host, port=port, serve_worker=worker)
    try:
        settings.require_secret_key()  # checked here too: in the app's lifespan it would be a traceback
    except SettingsError as error:
        fail(str(error))
    configure_logging(settings.log_format, settings.log_level)
    if settings.should_migrate:
        upgrade(settings.database_url)
    if settings.embedded:
        credentials = run_with_container(settings, ensure_dev_credentials)
        link = run_with_container(
            settings, partial(sign_in_link, org=credentials.orgId, api_key=credentials.apiKey)
        )
        _print_welcome(settings, credentials, link)
    options = {"host": settings.host, "port": settings.port, "log_config": None, "access_log": False}
    if workers == 1:
        app = create_app(settings, background=True)
        tune_garbage_collector()
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    # Several processes: they rebuild their settings from the environment, so pass the flags along, and
    # keep Prometheus values in files so that a scrape of any process reports the sum of all of them.
    metrics_dir = settings.home / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.update(
        {
            "CLARION_HOST": settings.host,
            "CLARION_PORT": str(settings.port),
            "CLARION_AUTO_MIGRATE": "0",
            "CLARION_SERVE_WORKER": "1" if settings.serve_worker else "0",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
    )
    uvicorn.run(
        "clarion.app:app_from_environment",
        factory=True,
        workers=workers,
        # uvicorn kills a process that has not answered its health check within 5 s of starting; importing
        # and building the app took longer than that on a busy 2-core machine, and serve never came up.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
        **options,  # type: ignore[arg-type]
    )


def worker(
    concurrency: Annotated[int | None, typer.Option(min=1, help="Jobs handled at once")] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback/--no-feedback",
            help="Also run the inbound feedback listener (CLARION_FEEDBACK_SMTP_HOST/PORT) in this worker",
        ),
    ] = False,
) -> None:
    """Run queue workers only (delivery, activation, throttling); stops gracefully on SIGTERM."""
    settings = load_settings(worker_concurrency=concurrency)
    configure_logging(settings.log_format, settings.log_level)

    async def work(services: Services) -> None:
        workers = BackgroundServices(
            services, Metrics(), run_worker=True, capture_smtp=False, feedback_smtp=feedback
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await workers.start()
        tune_garbage_collector()
        console.print("[green]worker running[/green] (Ctrl-C to stop)")
        await stopping.wait()
        await workers.stop()

    run_with_services(settings, work)


def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Migrate the database schema (SQLite or PostgreSQL) to the latest revision."""
    settings = load_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]database migrated to {revision}[/green]")


def _print_welcome(settings: Settings, credentials: DevCredentials, sign_in: str) -> None:
    """Print where Clarion listens and ready-to-paste credentials (curl lines unwrapped, so they paste)."""
    headers = " ".join(f"-H '{name}: {value}'" for name, value in credentials.headers().items())
    base = settings.base_url
    console.rule("[bold green]Clarion")
    console.print(f"Listening on [bold]{base}[/bold]   API docs: {base}/docs")
    console.print(
        f"Web console: [bold]{base}/console[/bold] — sign in with this link (once, within 10 minutes):"
    )
    console.print(f"  {sign_in}", soft_wrap=True, markup=False, highlight=False)
    console.print("  (a new link any time: clarion console login)")
    console.print(f"Development credentials, also in {settings.credentials_path}:")
    console.print(
        f"  org {credentials.orgId}  sandbox {credentials.sandboxName}  api key {credentials.apiKey}"
    )
    console.print("Try:")
    for path in ("/ajo/im/health", "/v1/sandboxes"):
        console.print(f"  curl -s {base}{path} {headers}", soft_wrap=True, markup=False, highlight=False)
    if settings.should_capture_smtp:
        console.print(
            f"Mail is captured on smtp://{settings.smtp_capture_host}:{settings.smtp_capture_port}; "
            "read it with: clarion outbox"
        )
    if settings.should_run_feedback_smtp:
        console.print(
            f"Bounces and complaints are read on smtp://{settings.feedback_smtp_host}:"
            f"{settings.feedback_smtp_port} (the feedback listener; mail to the bounce domains goes there)"
        )
    console.rule()
