"""A real SMTP server that keeps every message: Clarion's own capture server (aiosmtpd, ``devsmtp``) filing
each message in an ``Outbox`` folder with its arrival time and subject, for benchmarks that must tell
messages apart (``bench.faults``: lost and duplicated messages, per-message delays).

Run: ``python -m bench.capture_sink --outbox FOLDER [--host 127.0.0.1] [--port 0] [--delay-ms 0]``
(``--delay-ms``: each message takes that long to be accepted, like a remote relay). It prints
``capture sink ready on HOST:PORT`` once listening, ``{"messages": N}`` on SIGUSR1 (the protocol of
``bench.kit.sinks.Sink``), and stops on SIGINT/SIGTERM. Logs go to stderr (stdout carries the protocol).
aiosmtpd takes about a core near 3,000 messages/s: a load for this sink stays well below that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from clarion.devsmtp.outbox import CapturedMail, Outbox
from clarion.devsmtp.server import CaptureServer


class SlowOutbox(Outbox):
    """An outbox that takes ``delay`` seconds to store each message (in the capture server's thread)."""

    def __init__(self, folder: Path, *, delay: float) -> None:
        super().__init__(folder)
        self._delay = delay

    def store(self, mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> CapturedMail:
        """Wait, then store (the arrival time is taken after the wait: when the 250 is about to go)."""
        if self._delay > 0:
            time.sleep(self._delay)  # the relay's think time, not synchronisation
        return super().store(mail_from, rcpt_tos, data)


async def _serve(host: str, port: int, folder: Path, delay: float) -> None:
    outbox = SlowOutbox(folder, delay=delay)
    # The capture server stores each message in the loop's default executor: enough threads that a delay
    # bounds the latency of a message, not the throughput (64 threads / 50 ms = 1,280 messages/s).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64))
    server = CaptureServer(outbox, host=host, port=port)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def report() -> None:
        print(json.dumps({"messages": outbox.count()}), flush=True)

    loop.add_signal_handler(signal.SIGUSR1, report)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"capture sink ready on {host}:{server.port}", flush=True)
    await stop.wait()
    await server.stop()
    report()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.capture_sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--outbox", type=Path, required=True, help="folder of the captured messages")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="time taken to accept each message")
    args = parser.parse_args(argv)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    asyncio.run(_serve(args.host, args.port, args.outbox, args.delay_ms / 1000))


if __name__ == "__main__":
    main(sys.argv[1:])
