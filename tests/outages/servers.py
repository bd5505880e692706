"""Real dependencies to break: a ``redis-server`` of the test's own, and a TCP proxy in front of PostgreSQL.

Nothing here mocks a driver: Clarion talks to a real Redis that the test kills and restarts, and to the real
PostgreSQL through a proxy that the test cuts (closing every connection and the listening socket, so new
connections are refused) and restores on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import redis

from tests.delivery.servers import free_port

T = TypeVar("T")
HOST = "127.0.0.1"


async def eventually(
    attempt: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, within: float = 30.0
) -> tuple[T, float]:
    """Call ``attempt`` until ``accept`` holds for its result; the result and the seconds it took."""
    started = time.monotonic()
    while True:
        result = await attempt()
        elapsed = time.monotonic() - started
        if accept(result):
            return result, elapsed
        assert elapsed < within, f"not reached within {within} s; last result: {result!r}"
        await asyncio.sleep(0.05)  # a polling interval, not a synchronisation


class RedisServer:
    """A ``redis-server`` on a free port with its data folder; ``kill`` (SIGKILL) and ``start`` again."""

    def __init__(self, folder: Path, *, appendonly: bool = True, extra: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.port = free_port()
        self.appendonly = appendonly
        self.extra = extra
        """More ``redis-server`` arguments (e.g. ``--rename-command CONFIG ""``, as managed services do)."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server on the same port and folder; returns once it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            *self.extra,
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.RedisError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    assert self._process.poll() is None, "redis-server exited"
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save: only what the AOF holds survives)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``cut`` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (again) on the same port."""
        self._server = await asyncio.start_server(self._serve, HOST, self.port, reuse_address=True)

    async def cut(self) -> None:
        """Stop listening and reset every open connection, both sides: the database is gone."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        self._writers.difference_update((client_writer, upstream_writer))

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cut()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until either side closes, then close the writer."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
