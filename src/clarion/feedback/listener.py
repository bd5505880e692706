"""The inbound feedback listener: an SMTP server taking DSNs, complaints and auto-replies for bounce domains.

Like the capture server (``devsmtp/server.py``) it runs aiosmtpd's protocol on the *current* event loop
(``kit/smtp_server.py``): no thread, ``start()`` raises the bind error itself, ``port=0`` can be read back.

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

from typing import Any, AnyStr

import structlog

from clarion.feedback.reports import parse_report
from clarion.feedback.service import FeedbackIntake
from clarion.kit.clock import utcnow
from clarion.kit.outages import outage_of
from clarion.kit.smtp_server import LoopSmtpServer, TrackedSession

DATA_SIZE_LIMIT = 10 * 1024 * 1024
"""Mail over 10 MB is refused at DATA: no report is that big (the returned message is usually truncated)."""
ACCEPTED = "250 2.0.0 Report accepted"
NOT_HERE = "550 5.1.1 No such bounce address here"
RCPT_OK = "250 2.1.5 OK"
TRY_LATER = "451 4.3.0 Could not store the report, try again later"
NOT_YET = "451 4.3.0 The message this report is about is not recorded yet, try again later"
TOO_BIG = "552 5.3.4 Message too big for this system"

log = structlog.get_logger()


class FeedbackListener(LoopSmtpServer):
    """An SMTP server on ``host:port`` handing mail for bounce domains to a ``FeedbackIntake``."""

    name = "feedback"

    def __init__(
        self,
        intake: FeedbackIntake,
        *,
        host: str = "127.0.0.1",
        port: int = 2526,
        data_size_limit: int = DATA_SIZE_LIMIT,
        server_hostname: str | None = None,
    ) -> None:
        super().__init__(
            _FeedbackHandler(intake),
            host=host,
            port=port,
            data_size_limit=data_size_limit,
            server_hostname=server_hostname,
        )
        self._intake = intake

    async def _stopped(self) -> None:
        await self._intake.drain()  # the batch in flight

    def _session_class(self) -> type[TrackedSession]:
        return _FeedbackSession


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


class _FeedbackSession(TrackedSession):
    """One SMTP connection, answering aiosmtpd's size refusals with their RFC 3463 code."""

    async def push(self, status: AnyStr) -> None:
        """Send a reply, with RFC 3463 codes on aiosmtpd's size refusals (at MAIL ``SIZE=`` and at DATA)."""
        if isinstance(status, str) and status.startswith("552 Error:"):
            await super().push(TOO_BIG)
            return
        await super().push(status)
