"""``clarion feedback``: the inbound feedback listener (bounces, complaints) as a process of its own."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from prometheus_client import start_http_server

from clarion.cli.common import console, fail, load_settings, run_with_container
from clarion.container import Container
from clarion.ops.logging import configure_logging
from clarion.ops.metrics import Metrics
from clarion.runtime import feedback_listener


def feedback(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on [default: CLARION_FEEDBACK_SMTP_HOST, 127.0.0.1]"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="SMTP port [default: CLARION_FEEDBACK_SMTP_PORT, 2526]"),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Serve Prometheus /metrics on this port (0: not served)"),
    ] = 0,
) -> None:
    """Run the inbound feedback listener: DSNs, complaints and auto-replies sent to the bounce domains.

    Point the bounce domains' MX at it (or relay their mail to it); stops gracefully on SIGTERM.
    """
    settings = load_settings(feedback_smtp_host=host, feedback_smtp_port=port)
    configure_logging(settings.log_format, settings.log_level)

    async def listen(container: Container) -> None:
        metrics = Metrics()
        listener = feedback_listener(container, metrics)
        try:
            await listener.start()
        except OSError as error:
            fail(f"cannot listen on {listener.host}:{settings.feedback_smtp_port}: {error.strerror or error}")
        if metrics_port:
            start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        console.print(
            f"[green]feedback listener on smtp://{listener.host}:{listener.port}[/green]"
            + (f", metrics on http://{settings.host}:{metrics_port}/metrics" if metrics_port else "")
            + " (Ctrl-C to stop)",
            highlight=False,
        )
        await stopping.wait()
        await listener.stop()

    run_with_container(settings, listen)
