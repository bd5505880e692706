"""A minimal SMTP responder for delivery benchmarks: answers 250 to everything and counts messages.

aiosmtpd saturates one core near 3,000 msg/s here, so a load test against it measures the sink. This one is
a single asyncio ``Protocol`` (uvloop when installed) speaking just enough ESMTP: EHLO/HELO/MAIL/RCPT/RSET/
NOOP get 250, DATA 354 then 250 after the final dot, ``BDAT n [LAST]`` 250 after n bytes, QUIT 221. It offers
what Postfix offers a client (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING), so a client that batches
commands may; ``--no-extensions`` offers none of PIPELINING and CHUNKING. No TLS, no AUTH, nothing stored.

Run: ``python -m bench.smtp_sink --port 2526 [--host 127.0.0.1] [--count-file PATH] [--no-extensions]``.
It prints ``smtp sink ready on HOST:PORT`` once listening; on SIGUSR1 it prints
``{"messages": N, "connections": C}`` (and writes N to ``--count-file``); SIGINT/SIGTERM print the final
count and exit.
In-process: ``sink = await start_sink(port=0)``, read ``sink.messages``, ``await sink.close()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, cast

GREETING = b"220 smtp-sink ESMTP\r\n"
EHLO_REPLY = (
    b"250-smtp-sink\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
    b"250-SMTPUTF8\r\n250 CHUNKING\r\n"
)
PLAIN_EHLO_REPLY = b"250-smtp-sink\r\n250-8BITMIME\r\n250-SIZE 52428800\r\n250 SMTPUTF8\r\n"
OK = b"250 2.0.0 Ok\r\n"
QUEUED = b"250 2.0.0 Ok: queued\r\n"
START_DATA = b"354 End data with <CR><LF>.<CR><LF>\r\n"
BYE = b"221 2.0.0 Bye\r\n"
END_OF_DATA = b"\r\n.\r\n"
MAX_LINE = 64 * 1024  # a "command" longer than this is not SMTP: drop the connection


class Sink:
    """The listening server and its counters."""

    def __init__(self, *, extensions: bool = True) -> None:
        self.messages = 0
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.ehlo_reply = EHLO_REPLY if extensions else PLAIN_EHLO_REPLY

    @property
    def port(self) -> int:
        """The bound port."""
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def stats(self) -> str:
        """The counters as one JSON line."""
        return json.dumps({"messages": self.messages, "connections": self.connections})

    async def close(self) -> None:
        """Stop listening (open connections are left to their clients)."""
        if self.server is not None:
            self.server.close()
            self.server = None


class _Session(asyncio.Protocol):
    """One SMTP connection."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._buffer = bytearray()
        self._in_data = False
        self._scan = 0  # where to resume looking for the end of data
        self._chunk_left = 0  # bytes of a BDAT chunk still to come
        self._last_chunk = False
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Greet."""
        self._transport = cast(asyncio.WriteTransport, transport)
        self._sink.connections += 1
        self._transport.write(GREETING)

    def data_received(self, data: bytes) -> None:
        """Answer every complete command or message in the buffer."""
        self._buffer += data
        while (
            self._chunk() if self._chunk_left else self._end_of_data() if self._in_data else self._command()
        ):
            pass

    def _chunk(self) -> bool:
        """Consume (the rest of) a BDAT chunk; answer once it is complete."""
        taken = min(self._chunk_left, len(self._buffer))
        del self._buffer[:taken]
        self._chunk_left -= taken
        if self._chunk_left:
            return False
        if self._last_chunk:
            self._sink.messages += 1
        self._write(QUEUED if self._last_chunk else OK)
        return True

    def _end_of_data(self) -> bool:
        """Consume a complete message, if the buffer holds its end."""
        end = self._buffer.find(END_OF_DATA, self._scan)
        if end < 0:
            self._scan = max(0, len(self._buffer) - len(END_OF_DATA) + 1)
            return False
        del self._buffer[: end + len(END_OF_DATA)]
        self._in_data = False
        self._sink.messages += 1
        self._write(QUEUED)
        return True

    def _command(self) -> bool:
        """Answer one command line, if the buffer holds a complete one."""
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE and self._transport is not None:
                self._transport.abort()
            return False
        verb = bytes(self._buffer[:4]).upper()
        if verb == b"DATA":
            # Keep the CRLF that ends "DATA": the end marker is CRLF.CRLF, so an empty message works too.
            del self._buffer[:end]
            self._in_data, self._scan = True, 0
            self._write(START_DATA)
            return True
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        if verb == b"BDAT":
            size, _, last = line[5:].partition(b" ")
            self._chunk_left, self._last_chunk = int(size), last.upper() == b"LAST"
            if self._chunk_left == 0:
                return self._chunk()
            return True
        if verb == b"QUIT":
            self._write(BYE)
            if self._transport is not None:
                self._transport.close()
            return False
        self._write(self._sink.ehlo_reply if verb == b"EHLO" else OK)
        return True

    def _write(self, reply: bytes) -> None:
        """Send a reply if the connection is still open."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)


async def start_sink(host: str = "127.0.0.1", port: int = 0, *, extensions: bool = True) -> Sink:
    """Listen on ``host:port`` (0 = any free port) on the running loop."""
    sink = Sink(extensions=extensions)
    loop = asyncio.get_running_loop()
    sink.server = await loop.create_server(lambda: _Session(sink), host, port, backlog=1024)
    return sink


async def _serve(host: str, port: int, count_file: Path | None, extensions: bool) -> None:
    """Run until SIGINT/SIGTERM, reporting on SIGUSR1."""
    sink = await start_sink(host, port, extensions=extensions)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def report() -> None:
        print(sink.stats(), flush=True)
        if count_file is not None:
            count_file.write_text(f"{sink.messages}\n")

    loop.add_signal_handler(signal.SIGUSR1, report)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"smtp sink ready on {host}:{sink.port}", flush=True)
    await stop.wait()
    report()
    await sink.close()


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop if it is installed (it is in the project's environment), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--count-file", type=Path, default=None, help="write the message count here too")
    parser.add_argument(
        "--no-extensions",
        action="store_true",
        help="offer neither PIPELINING nor CHUNKING (one command at a time)",
    )
    args = parser.parse_args(argv)
    _run(_serve(args.host, args.port, args.count_file, not args.no_extensions))


if __name__ == "__main__":
    main(sys.argv[1:])
