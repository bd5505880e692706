"""bench.http_clients — CPU per request of httpx and aiohttp against the same local HTTP server.

Why the custom-action sender uses aiohttp while the rest of Clarion uses httpx: this measures both clients
POSTing the same small JSON body to ``bench.http_sink`` with the same number of requests in flight (the
client's pool sized to match), and reports requests/s and client CPU-µs per request.

Run: ``.venv/bin/python -m bench.http_clients [--requests 20000] [--in-flight 16,64]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import httpx
import uvloop

from bench.kit.paths import PYTHON
from bench.kit.processes import Service, free_port
from bench.kit.report import code_version, console, machine_info, table, write_results
from bench.kit.runner import workdir

BODY = b'{"seq": 1}'
HEADERS = {"content-type": "application/json"}


async def with_httpx(url: str, requests: int, in_flight: int) -> None:
    """``requests`` POSTs through one ``httpx.AsyncClient``, ``in_flight`` at a time."""
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    gate = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one() -> None:
            async with gate:
                response = await client.post(url, content=BODY, headers=HEADERS)
                response.raise_for_status()

        await asyncio.gather(*(one() for _ in range(requests)))


async def with_aiohttp(url: str, requests: int, in_flight: int) -> None:
    """``requests`` POSTs through one ``aiohttp.ClientSession``, ``in_flight`` at a time."""
    gate = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def one() -> None:
            async with gate, session.post(url, data=BODY, headers=HEADERS) as response:
                response.raise_for_status()
                await response.read()

        await asyncio.gather(*(one() for _ in range(requests)))


def measure(
    run: Callable[[str, int, int], Awaitable[None]], url: str, requests: int, in_flight: int
) -> dict[str, float]:
    """Requests/s and CPU-µs per request of one client run (its own event loop, uvloop)."""
    cpu, wall = time.process_time(), time.perf_counter()
    uvloop.run(run(url, requests, in_flight))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"requests_per_s": round(requests / wall), "cpu_us_per_request": round(1e6 * cpu / requests, 1)}


def main(argv: Sequence[str] | None = None) -> None:
    """Start the sink, measure both clients, print and write ``bench/results/http_clients.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--in-flight", default="16,64", help="requests in flight (comma-separated)")
    options = parser.parse_args(argv)
    rows = []
    with workdir("http-clients") as work:
        port = free_port()
        argv_sink = [
            PYTHON,
            "-m",
            "bench.http_sink",
            "--port",
            str(port),
            "--out",
            str(Path(work) / "a.json"),
        ]
        sink = Service("http-sink", argv_sink, env=dict(os.environ), log_dir=work).start()
        try:
            sink.wait_for_log("http sink ready")
            url = f"http://127.0.0.1:{port}/bench"
            for in_flight in (int(value) for value in options.in_flight.split(",")):
                for name, run in (("httpx", with_httpx), ("aiohttp", with_aiohttp)):
                    result = measure(run, url, options.requests, in_flight)
                    rows.append({"client": name, "in_flight": in_flight, **result})
        finally:
            sink.stop()
    console.print(
        table(
            "bench.http_clients — POST to a local server",
            ["client", "in flight", "requests/s", "CPU-µs per request"],
            [[r["client"], r["in_flight"], r["requests_per_s"], r["cpu_us_per_request"]] for r in rows],
        )
    )
    path = write_results(
        "http_clients",
        {
            "benchmark": "http_clients",
            "settings": vars(options),
            "machine": machine_info(),
            "code": code_version(),
            "rows": rows,
        },
    )
    console.print(f"[dim]results written to {path}[/dim]")


if __name__ == "__main__":
    main()
