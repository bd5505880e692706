"""Polling with deadlines, stats shortcuts and the worker subprocess launcher shared by the queue tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from clarion.queue.port import Job, JobQueue, QueueStats

T = TypeVar("T")
WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail the test when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or probe}")
        await asyncio.sleep(interval)


async def reserve_eventually(
    queue: JobQueue, name: str = "default", *, limit: int = 10, lease: float = 30.0, timeout: float = 10.0
) -> list[Job]:
    """Reserve repeatedly until something comes back (delayed, retried or expired jobs)."""

    async def probe() -> list[Job]:
        return await queue.reserve(name, limit=limit, lease_seconds=lease)

    return await eventually(probe, timeout=timeout, what=f"a reservable job in {name!r}")


async def wait_for_clock(epoch: float) -> None:
    """Wait until the wall clock passes ``epoch`` (due times are wall-clock times, so this IS the event)."""
    while time.time() < epoch:
        await asyncio.sleep(max(0.005, epoch - time.time()))


def counts(stats: QueueStats, name: str = "default") -> dict[str, int]:
    """The four counters of one queue (a queue never seen counts zero everywhere)."""
    return {
        "ready": stats.ready.get(name, 0),
        "delayed": stats.delayed.get(name, 0),
        "leased": stats.leased.get(name, 0),
        "dead": stats.dead.get(name, 0),
    }


EMPTY = {"ready": 0, "delayed": 0, "leased": 0, "dead": 0}


def start_worker_process(queue_args: list[str], log_path: Path, *options: str) -> subprocess.Popen[bytes]:
    """Start ``worker_process.py`` with the test's queue location plus ``options``; output goes to a log."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), *queue_args, *options], stdout=log, stderr=subprocess.STDOUT
        )


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The end of a worker's log, for assertion messages."""
    if not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
