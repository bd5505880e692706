"""A minimal HTTP/1.1 target for throttle benchmarks: answers 200 to every request and records arrivals.

For each request it keeps ``(seq, time.time())``, where ``seq`` is the integer of the JSON body's
``"seq"`` field (-1 when absent). One asyncio ``Protocol`` (uvloop), keep-alive, ``Content-Length``
bodies only — just what an ``httpx`` client sends.

Run: ``python -m bench.http_sink --port 8099 --out arrivals.json``. It prints ``http sink ready on
HOST:PORT`` once listening; SIGUSR1 writes the arrivals so far to ``--out`` (then prints ``dumped N``);
SIGTERM/SIGINT write them and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path

import uvloop

RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
SEQ = re.compile(rb'"seq"\s*:\s*(\d+)')
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Recorder:
    """Arrivals of every connection."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.times: list[float] = []

    def dump(self, path: Path) -> int:
        """Write ``{"seq": [...], "time": [...]}``; the number of arrivals."""
        path.write_text(json.dumps({"seq": self.seqs, "time": self.times}))
        return len(self.seqs)


class HttpSink(asyncio.Protocol):
    """One connection: split requests, record each, answer 200."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            found = CONTENT_LENGTH.search(head)
            length = int(found.group(1)) if found else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            seq = SEQ.search(body)
            self.recorder.seqs.append(int(seq.group(1)) if seq else -1)
            self.recorder.times.append(time.time())
            assert self.transport is not None
            self.transport.write(RESPONSE)


async def main(host: str, port: int, out: Path) -> None:
    """Serve until SIGTERM/SIGINT."""
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpSink(recorder), host, port, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(f"dumped {recorder.dump(out)}", flush=True))
    print(f"http sink ready on {host}:{port}", flush=True)
    await stop.wait()
    server.close()
    print(f"dumped {recorder.dump(out)}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    uvloop.run(main(options.host, options.port, options.out))
    sys.exit(0)
