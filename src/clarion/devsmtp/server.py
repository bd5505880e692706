"""The bundled SMTP capture server: accepts every message and files it in an ``Outbox``.

It runs on the *current* event loop (``loop.create_server`` with aiosmtpd's ``SMTP`` protocol) rather than
through ``aiosmtpd.controller.Controller``, which owns a second loop in a thread: no thread to start, stop or
leak, ``start()`` raises the bind error itself (``EADDRINUSE``) instead of a timeout, ``port=0`` can be read
back at once, and ``stop()`` is awaited on the loop that served. Sessions are cheap coroutines; the only
blocking work, writing a message to disk, runs in a worker thread so a 30 MB message never stalls the API
sharing the loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType
from typing import Any, cast

import structlog
from aiosmtpd.smtp import SMTP

from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.simulator import ReportSender, rcpt_reply, reports_for

DATA_SIZE_LIMIT = 30 * 1024 * 1024
ACCEPTED = "250 Message accepted for delivery"
STORE_FAILED = "451 4.3.0 Could not store the message, try again later"

log = structlog.get_logger()


class CaptureServer:
    """An SMTP server on ``host:port`` accepting all mail into ``outbox``; ``start``/``stop`` on the loop."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        data_size_limit: int = DATA_SIZE_LIMIT,
        server_hostname: str | None = None,
        feedback_to: tuple[str, int] | None = None,
    ) -> None:
        self._outbox = outbox
        self._host = host
        self._requested_port = port
        self._data_size_limit = data_size_limit
        # aiosmtpd would call socket.getfqdn() (a DNS lookup, blocking the loop) on every connection.
        self._server_hostname = server_hostname or socket.gethostname()
        # The mailbox simulator's reports go to the feedback listener (devsmtp/simulator.py); without one,
        # its recipients still answer at RCPT but send nothing back.
        self._reports = ReportSender(*feedback_to) if feedback_to else None
        self._handler = _CaptureHandler(outbox, self._reports)
        self._server: asyncio.Server | None = None
        self._bound_port: int | None = None
        self._sessions: set[_CaptureSession] = set()
        self._closing = False

    @property
    def outbox(self) -> Outbox:
        """Where accepted mail goes."""
        return self._outbox

    @property
    def port(self) -> int:
        """The port actually bound (the first socket's, if ``host`` resolves to several addresses)."""
        if self._bound_port is None:
            raise RuntimeError("The capture server has not been started.")
        return self._bound_port

    @property
    def serving(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    async def start(self) -> None:
        """Bind and start accepting connections on the running loop; raises ``OSError`` if the bind fails."""
        if self._server is not None:
            raise RuntimeError("The capture server is already running.")
        _quiet_aiosmtpd_logger()
        loop = asyncio.get_running_loop()
        self._closing = False
        self._server = await loop.create_server(
            lambda: _CaptureSession(self, loop), host=self._host, port=self._requested_port
        )
        self._bound_port = int(self._server.sockets[0].getsockname()[1])
        log.info("devsmtp.listening", host=self._host, port=self._bound_port, folder=str(self._outbox.folder))

    async def stop(self) -> None:
        """Stop listening, drop every open session and wait for their tasks to end; a no-op if not running."""
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
        if self._reports is not None:
            await self._reports.close()
        log.info("devsmtp.stopped", port=self._bound_port)

    async def __aenter__(self) -> CaptureServer:
        """Start; ``async with CaptureServer(...) as server`` stops it on exit."""
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

    def _session_started(self, session: _CaptureSession) -> bool:
        """Register a new session; ``False`` if the server is stopping and the session must be dropped."""
        if self._closing:
            return False
        self._sessions.add(session)
        return True

    def _session_ended(self, session: _CaptureSession) -> None:
        """Forget a session whose connection is gone."""
        self._sessions.discard(session)

    def _new_protocol_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of every session's ``SMTP`` protocol."""
        return {
            "data_size_limit": self._data_size_limit,
            "enable_SMTPUTF8": True,  # accept internationalized addresses (RFC 6531)
            "decode_data": False,  # keep the bytes exactly as received
            "hostname": self._server_hostname,
        }


class _CaptureHandler:
    """aiosmtpd handler: accepts every recipient (but the simulator's refusals) and files each message in
    the outbox, off the event loop; the simulator's reports follow."""

    def __init__(self, outbox: Outbox, reports: ReportSender | None) -> None:
        self._outbox = outbox
        self._reports = reports

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept the recipient, unless it is a simulator address that refuses (``bounce@``, …)."""
        refusal = rcpt_reply(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920): aiosmtpd reads commands one at a time from its stream, so a client
        may send MAIL, RCPT and DATA together — as Clarion's delivery does when it is offered."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message; answer 250 once it is on disk, 451 (retry later) if it could not be written."""
        data: bytes = envelope.original_content
        mail_from = str(envelope.mail_from or "")
        rcpt_tos = [str(rcpt) for rcpt in envelope.rcpt_tos]
        try:
            mail = await asyncio.to_thread(self._outbox.store, mail_from, rcpt_tos, data)
        except OSError:
            log.exception("devsmtp.store_failed", mail_from=mail_from, rcpt_tos=rcpt_tos, size=len(data))
            return STORE_FAILED
        # Envelope and size only: bodies (and subjects, which carry personal data) are never logged.
        log.info(
            "devsmtp.captured",
            id=mail.id,
            mail_from=mail.mail_from,
            rcpt_tos=list(mail.rcpt_tos),
            size=mail.size,
        )
        if self._reports is not None:
            self._reports.send(reports_for(mail_from, rcpt_tos, data))
        return ACCEPTED


class _CaptureSession(SMTP):
    """One SMTP connection; registers with its server so that ``stop()`` can close it."""

    def __init__(self, owner: CaptureServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(owner._handler, loop=loop, **owner._new_protocol_kwargs())
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
