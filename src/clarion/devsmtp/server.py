"""The bundled SMTP capture server: accepts every message and files it in an ``Outbox``.

It runs on the *current* event loop (``kit/smtp_server.py``, shared with the feedback listener). Sessions are
cheap coroutines; the only blocking work, writing a message to disk, runs in a worker thread so a 30 MB
message never stalls the API sharing the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.simulator import ReportSender, rcpt_reply, reports_for
from clarion.kit.smtp_server import LoopSmtpServer

DATA_SIZE_LIMIT = 30 * 1024 * 1024
ACCEPTED = "250 Message accepted for delivery"
STORE_FAILED = "451 4.3.0 Could not store the message, try again later"

log = structlog.get_logger()


class CaptureServer(LoopSmtpServer):
    """An SMTP server on ``host:port`` accepting all mail into ``outbox``; ``start``/``stop`` on the loop."""

    name = "devsmtp"

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
        # The mailbox simulator's reports go to the feedback listener (devsmtp/simulator.py); without one,
        # its recipients still answer at RCPT but send nothing back.
        self._reports = ReportSender(*feedback_to) if feedback_to else None
        super().__init__(
            _CaptureHandler(outbox, self._reports),
            host=host,
            port=port,
            data_size_limit=data_size_limit,
            server_hostname=server_hostname,
        )
        self._outbox = outbox

    @property
    def outbox(self) -> Outbox:
        """Where accepted mail goes."""
        return self._outbox

    async def _stopped(self) -> None:
        if self._reports is not None:
            await self._reports.close()

    def _log_details(self) -> dict[str, Any]:
        return {"folder": str(self._outbox.folder)}


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
