"""The inbound feedback listener: an SMTP server taking DSNs, complaints and auto-replies for bounce domains.

Like the capture server (``devsmtp/server.py``) it runs aiosmtpd's protocol on the *current* event loop
(``loop.create_server``): no thread, ``start()`` raises the bind error itself, ``port=0`` can be read back.

The conversation, per mail:

- ``RCPT``: accepted (``250``) only at a configured bounce domain (``FeedbackIntake.accepts``: a cached
  set, no query per RCPT), else ``550 5.1.1``; several recipients per mail are fine; ``451 4.3.0`` when the
  set cannot be read;
- ``DATA``: over ``data_size_limit`` (10 MB) ``552 5.3.4``; otherwise the mail is parsed in the session and
  applied through the intake's group commit: ``250`` once its batch is committed, ``451 4.3.0`` (the sender
  retries) when it could not be stored or names a message the ledger does not hold (yet). Forged addresses
  and unreadable mail are accepted and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType
from typing import Any, AnyStr, cast

import structlog
from aiosmtpd.smtp import SMTP

from clarion.feedback.reports import parse_report
from clarion.feedback.service import FeedbackIntake
from clarion.kit.clock import utcnow
from clarion.kit.outages import outage_of

DATA_SIZE_LIMIT = 10 * 1024 * 1024
"""Mail over 10 MB is refused at DATA: no report is that big (the returned message is usually truncated)."""
ACCEPTED = "250 2.0.0 Report accepted"
NOT_HERE = "550 5.1.1 No such bounce address here"
RCPT_OK = "250 2.1.5 OK"
TRY_LATER = "451 4.3.0 Could not store the report, try again later"
NOT_YET = "451 4.3.0 The message this report is about is not recorded yet, try again later"
TOO_BIG = "552 5.3.4 Message too big for this system"

log = structlog.get_logger()


class FeedbackListener:
    """An SMTP server on ``host:port`` handing mail for bounce domains to a ``FeedbackIntake``."""

    def __init__(
        self,
        intake: FeedbackIntake,
        *,
        host: str = "127.0.0.1",
        port: int = 2526,
        data_size_limit: int = DATA_SIZE_LIMIT,
        server_hostname: str | None = None,
    ) -> None:
        self._intake = intake
        self._host = host
        self._requested_port = port
        self._data_size_limit = data_size_limit
        # aiosmtpd would call socket.getfqdn() (a DNS lookup, blocking the loop) on every connection.
        self._server_hostname = server_hostname or socket.gethostname()
        self._handler = _FeedbackHandler(intake)
        self._server: asyncio.Server | None = None
        self._bound_port: int | None = None
        self._sessions: set[_FeedbackSession] = set()
        self._closing = False

    @property
    def port(self) -> int:
        """The port actually bound."""
        if self._bound_port is None:
            raise RuntimeError("The feedback listener has not been started.")
        return self._bound_port

    @property
    def host(self) -> str:
        """The interface listened on."""
        return self._host

    async def start(self) -> None:
        """Bind and accept connections on the running loop; raises ``OSError`` if the bind fails."""
        if self._server is not None:
            raise RuntimeError("The feedback listener is already running.")
        aiosmtpd_log = logging.getLogger("mail.log")
        if aiosmtpd_log.level == logging.NOTSET:  # aiosmtpd logs every command at INFO
            aiosmtpd_log.setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self._closing = False
        self._server = await loop.create_server(
            lambda: _FeedbackSession(self, loop), host=self._host, port=self._requested_port
        )
        self._bound_port = int(self._server.sockets[0].getsockname()[1])
        log.info("feedback.listening", host=self._host, port=self._bound_port)

    async def stop(self) -> None:
        """Stop listening, drop open sessions, wait for them, then for the batch in flight."""
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
        await self._intake.drain()
        log.info("feedback.stopped", port=self._bound_port)

    async def __aenter__(self) -> FeedbackListener:
        """Start; ``async with FeedbackListener(...)`` stops it on exit."""
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

    def _session_started(self, session: _FeedbackSession) -> bool:
        if self._closing:
            return False
        self._sessions.add(session)
        return True

    def _session_ended(self, session: _FeedbackSession) -> None:
        self._sessions.discard(session)


class _FeedbackHandler:
    """aiosmtpd handler: bounce domains only at RCPT, parse and apply at DATA."""

    def __init__(self, intake: FeedbackIntake) -> None:
        self._intake = intake

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920): big senders batch their commands."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept recipients at a configured bounce domain only."""
        try:
            accepted = await self._intake.accepts(address)
        except Exception as error:
            if outage_of(error) is None:
                log.exception("feedback.rcpt_failed")
            else:
                log.warning("feedback.rcpt_unavailable", error=type(error).__name__)
            return TRY_LATER
        if not accepted:
            return NOT_HERE
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Parse and apply the mail; ``250`` once what it says is stored, ``451`` if it could not be."""
        data: bytes = envelope.original_content or b""
        rcpt_tos = [str(rcpt) for rcpt in envelope.rcpt_tos]
        report = parse_report(data)
        try:
            outcomes = await self._intake.apply(rcpt_tos, report, utcnow())
        except Exception as error:
            if outage_of(error) is None:
                log.exception("feedback.store_failed", kind=report.kind, size=len(data))
            else:
                log.warning("feedback.store_unavailable", kind=report.kind, error=type(error).__name__)
            return TRY_LATER
        # Envelope, kind and outcome only: reports quote the recipient's mail, never logged.
        log.debug("feedback.received", kind=report.kind, outcomes=outcomes, size=len(data))
        if "unknown_message" in outcomes:
            # A bounce address that verifies was made by this instance for that message: its ledger row is
            # not committed yet (a report faster than the ledger's group commit) or it was purged. The sender
            # retries, as it would after any 4xx; the others of a multi-recipient mail are kept meanwhile and
            # come back as duplicates.
            return NOT_YET
        return ACCEPTED


class _FeedbackSession(SMTP):
    """One SMTP connection; registers with its listener so that ``stop()`` can close it."""

    def __init__(self, owner: FeedbackListener, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(
            owner._handler,
            loop=loop,
            data_size_limit=owner._data_size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=owner._server_hostname,
        )
        self._owner = owner

    async def push(self, status: AnyStr) -> None:
        """Send a reply, with RFC 3463 codes on aiosmtpd's size refusals (at MAIL ``SIZE=`` and at DATA)."""
        if isinstance(status, str) and status.startswith("552 Error:"):
            await super().push(TOO_BIG)
            return
        await super().push(status)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the session, unless the listener began stopping since the connection was accepted."""
        super().connection_made(transport)
        if not self._owner._session_started(self):
            cast(asyncio.WriteTransport, transport).abort()

    def connection_lost(self, error: Exception | None) -> None:
        """Unregister, then let aiosmtpd end the session."""
        self._owner._session_ended(self)
        super().connection_lost(error)

    def drop(self) -> None:
        """Close the connection now, without flushing."""
        transport = self.transport
        if transport is not None:
            cast(asyncio.WriteTransport, transport).abort()

    def finished(self) -> asyncio.Future[Any]:
        """A future that resolves when the session's task has ended."""
        task = getattr(self, "_handler_coroutine", None)
        if isinstance(task, asyncio.Future):
            return task
        done: asyncio.Future[Any] = self.loop.create_future()
        done.set_result(None)
        return done
