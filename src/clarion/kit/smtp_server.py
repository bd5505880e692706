"""An aiosmtpd server on the *current* event loop: what the capture server and the feedback listener share.

``loop.create_server`` with aiosmtpd's ``SMTP`` protocol rather than ``aiosmtpd.controller.Controller``, which
owns a second loop in a thread: no thread to start, stop or leak, ``start()`` raises the bind error itself
(``EADDRINUSE``) instead of a timeout, ``port=0`` can be read back at once, and ``stop()`` is awaited on the
loop that served. Every session registers with its server, so ``stop()`` closes the open ones (a client that
stopped reading cannot stall it) and waits for their tasks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType
from typing import Any, Self, cast

import structlog
from aiosmtpd.smtp import SMTP

log = structlog.get_logger()


class LoopSmtpServer:
    """An SMTP server on ``host:port`` for one aiosmtpd ``handler``; ``start``/``stop`` on the running loop.

    ``name`` prefixes its log events (``<name>.listening``); subclasses add what their ``stop`` must finish
    (``_stopped``) and may answer differently (``_session_class``)."""

    name = "smtp"

    def __init__(
        self,
        handler: Any,
        *,
        host: str,
        port: int,
        data_size_limit: int,
        server_hostname: str | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._data_size_limit = data_size_limit
        # aiosmtpd would call socket.getfqdn() (a DNS lookup, blocking the loop) on every connection.
        self._server_hostname = server_hostname or socket.gethostname()
        self._server: asyncio.Server | None = None
        self._bound_port: int | None = None
        self._sessions: set[TrackedSession] = set()
        self._closing = False

    @property
    def host(self) -> str:
        """The interface listened on."""
        return self._host

    @property
    def port(self) -> int:
        """The port actually bound (the first socket's, if ``host`` resolves to several addresses)."""
        if self._bound_port is None:
            raise RuntimeError(f"The {self.name} server has not been started.")
        return self._bound_port

    @property
    def serving(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    async def start(self) -> None:
        """Bind and start accepting connections on the running loop; raises ``OSError`` if the bind fails."""
        if self._server is not None:
            raise RuntimeError(f"The {self.name} server is already running.")
        _quiet_aiosmtpd_logger()
        loop = asyncio.get_running_loop()
        self._closing = False
        self._server = await loop.create_server(
            lambda: self._session_class()(self, loop), host=self._host, port=self._requested_port
        )
        self._bound_port = int(self._server.sockets[0].getsockname()[1])
        log.info(f"{self.name}.listening", host=self._host, port=self._bound_port, **self._log_details())

    async def stop(self) -> None:
        """Stop listening, drop every open session, wait for their tasks, then ``_stopped``; a no-op if not
        running."""
        server = self._server
        if server is None:
            return
        self._server = None
        self._closing = True
        server.close()
        sessions = list(self._sessions)
        for session in sessions:
            session.drop()
        await server.wait_closed()
        await asyncio.gather(*(session.finished() for session in sessions), return_exceptions=True)
        await self._stopped()
        log.info(f"{self.name}.stopped", port=self._bound_port)

    async def __aenter__(self) -> Self:
        """Start; ``async with Server(...) as server`` stops it on exit."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    async def _stopped(self) -> None:
        """What a subclass finishes once the sessions are gone (a batch in flight, reports to send)."""

    def _log_details(self) -> dict[str, Any]:
        """More fields of the ``listening`` log line."""
        return {}

    def _session_class(self) -> type[TrackedSession]:
        return TrackedSession

    def _session_started(self, session: TrackedSession) -> bool:
        """Register a new session; ``False`` if the server is stopping and the session must be dropped."""
        if self._closing:
            return False
        self._sessions.add(session)
        return True

    def _session_ended(self, session: TrackedSession) -> None:
        """Forget a session whose connection is gone."""
        self._sessions.discard(session)

    def _protocol_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of every session's ``SMTP`` protocol."""
        return {
            "data_size_limit": self._data_size_limit,
            "enable_SMTPUTF8": True,  # accept internationalized addresses (RFC 6531)
            "decode_data": False,  # keep the bytes exactly as received
            "hostname": self._server_hostname,
        }


class TrackedSession(SMTP):
    """One SMTP connection; registers with its server so that ``stop()`` can close it."""

    def __init__(self, owner: LoopSmtpServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(owner._handler, loop=loop, **owner._protocol_kwargs())
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the session, unless the server began stopping since the connection was accepted."""
        super().connection_made(transport)
        if not self._owner._session_started(self):
            _abort(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Unregister, then let aiosmtpd end the session (it cancels the session's task)."""
        self._owner._session_ended(self)
        super().connection_lost(error)

    def drop(self) -> None:
        """Close the connection now, without flushing (a client that stopped reading cannot stall stop())."""
        transport = self.transport
        if transport is not None:
            _abort(transport)

    def finished(self) -> asyncio.Future[Any]:
        """A future that resolves when the session's task has ended."""
        # aiosmtpd keeps the session coroutine's task in ``_handler_coroutine`` (set in connection_made).
        task = getattr(self, "_handler_coroutine", None)
        if isinstance(task, asyncio.Future):
            return task
        done: asyncio.Future[Any] = self.loop.create_future()
        done.set_result(None)
        return done


def _abort(transport: asyncio.BaseTransport) -> None:
    """Close a connection at once, dropping unsent data (uvloop transports are no ``asyncio.Transport``)."""
    cast(asyncio.WriteTransport, transport).abort()


def _quiet_aiosmtpd_logger() -> None:
    """aiosmtpd logs every command at INFO, DATA lines at DEBUG: WARNING unless the logger is configured."""
    aiosmtpd_log = logging.getLogger("mail.log")
    if aiosmtpd_log.level == logging.NOTSET:
        aiosmtpd_log.setLevel(logging.WARNING)
