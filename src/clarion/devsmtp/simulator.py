"""The mailbox simulator of the capture server: scripted recipients at ``simulator.clarion.test``.

What Amazon SES's mailbox simulator offers, without the internet, so bounces, complaints and auto-replies
can be tried end to end with ``make run``:

| recipient | answer |
|---|---|
| ``success@`` | accepted (captured) |
| ``bounce@`` | ``550 5.1.1`` at RCPT (a synchronous hard bounce) |
| ``softbounce@`` | ``452 4.2.2`` at RCPT (mailbox full: a soft bounce, retried) |
| ``complaint@`` | accepted, then an RFC 5965 ARF ``abuse`` report to the envelope sender |
| ``ooto@`` | accepted, then an RFC 3834 out-of-office auto-reply to the envelope sender |
| ``bounce-async@`` | accepted, then an RFC 3464 DSN ``failed 5.1.1`` to the envelope sender (a late bounce) |

The reports are composed here with the standard library and sent over SMTP (aiosmtplib) to the feedback
listener, as a remote MTA would send them to the message's bounce address; the listener decides what the
envelope sender is worth (a VERP address names its message; anything else is dropped and counted).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formatdate, make_msgid
from typing import NamedTuple

import aiosmtplib
import structlog

SIMULATOR_DOMAIN = "simulator.clarion.test"
USER_AGENT = "Clarion-Mailbox-Simulator/1"
RCPT_REPLIES = {
    "bounce": "550 5.1.1 <{address}>: Recipient address rejected: User unknown (mailbox simulator)",
    "softbounce": "452 4.2.2 <{address}>: Mailbox full, try again later (mailbox simulator)",
}
"""Simulated recipients refused at RCPT, by local part."""
ATTEMPTS = 7
"""Tries to hand a report to the feedback listener, like an MTA's queue but briefly (0.2 s, doubling: about
13 s in all); the listener answers 4xx to a report that arrives before its message's ledger row."""
CLOSE_GRACE_SECONDS = 5.0
"""How long ``close`` waits for reports in flight before dropping them (a stopping server)."""
FIRST_RETRY_SECONDS = 0.2

log = structlog.get_logger()


class SimulatedReport(NamedTuple):
    """A report to send: its envelope and bytes."""

    kind: str
    mail_from: str
    to: str
    data: bytes


def simulated(address: str) -> str | None:
    """The simulator's local part of ``address`` (lowercase), or None when it is not a simulator address."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return local.lower() if domain.lower() == SIMULATOR_DOMAIN and local else None


def rcpt_reply(address: str) -> str | None:
    """The simulator's RCPT refusal for ``address``; None: accept it."""
    reply = RCPT_REPLIES.get(simulated(address) or "")
    return reply.format(address=address.strip("<>")) if reply else None


def reports_for(mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> list[SimulatedReport]:
    """The reports the simulated mailboxes among ``rcpt_tos`` send back about an accepted mail."""
    sender = mail_from.strip().strip("<>")
    simulated_rcpts = [(rcpt, name) for rcpt in rcpt_tos if (name := simulated(rcpt))]
    # Nothing goes back to a null sender (RFC 3464 §2, RFC 3834 §2), nor for ordinary recipients.
    if not simulated_rcpts or "@" not in sender:
        return []
    reports = []
    headers = BytesHeaderParser(policy=compat32).parsebytes(data)
    for rcpt, name in simulated_rcpts:
        match name:
            case "complaint":
                reports.append(SimulatedReport("complaint", "", sender, arf_report(sender, rcpt, data)))
            case "ooto":
                reports.append(SimulatedReport("auto-reply", "", sender, auto_reply(sender, rcpt, headers)))
            case "bounce-async":
                reports.append(SimulatedReport("dsn", "", sender, dsn(sender, rcpt, data)))
            case _:
                pass
    return reports


class ReportSender:
    """Sends simulated reports to the feedback listener in the background; ``close`` waits for them."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, reports: Sequence[SimulatedReport]) -> None:
        """Start sending ``reports`` (after the original mail's ``250``: real reports come later)."""
        for report in reports:
            task = asyncio.create_task(self._deliver(report), name="devsmtp-simulator-report")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait a little for the reports in flight, then drop those still retrying."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=CLOSE_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _deliver(self, report: SimulatedReport) -> None:
        delay = FIRST_RETRY_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with aiosmtplib.SMTP(
                    hostname=self.host, port=self.port, timeout=10, local_hostname=SIMULATOR_DOMAIN
                ) as client:
                    await client.sendmail(report.mail_from, [report.to], report.data)
            except (aiosmtplib.SMTPException, OSError) as error:
                permanent = _permanent(error)
                if permanent or attempt == ATTEMPTS:
                    log.warning(
                        "devsmtp.simulator_report_failed",
                        kind=report.kind,
                        to=report.to,
                        error=str(error)[:200],
                        listener=f"{self.host}:{self.port}",
                    )
                    return
                await asyncio.sleep(delay)  # a retry schedule, like an MTA's queue
                delay *= 2
            else:
                log.info("devsmtp.simulator_report_sent", kind=report.kind, to=report.to)
                return


def _permanent(error: Exception) -> bool:
    """Whether the listener refused for good (a 5xx: e.g. the envelope sender is at no bounce domain)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


def arf_report(sender: str, rcpt: str, original: bytes) -> bytes:
    """An RFC 5965 abuse report about ``original``, as a mailbox provider's feedback loop sends it."""
    boundary = _boundary()
    arrival = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2]
    text = (
        f"This is an email abuse report for an email message received from {domain} on {arrival}.\r\n"
        "The recipient marked it as spam (Clarion mailbox simulator).\r\n"
    )
    report = (
        "Feedback-Type: abuse\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        "Version: 1\r\n"
        f"Original-Mail-From: <{sender}>\r\n"
        f"Original-Rcpt-To: <{rcpt}>\r\n"
        f"Arrival-Date: {arrival}\r\n"
        f"Reported-Domain: {domain}\r\n"
    )
    returned = f"Return-Path: <{sender}>\r\n".encode() + original
    return _multipart(
        headers=[
            ("From", f"<abuse-reports@{SIMULATOR_DOMAIN}>"),
            ("To", f"<{sender}>"),
            ("Subject", "Abuse report (mailbox simulator)"),
        ],
        report_type="feedback-report",
        boundary=boundary,
        parts=[
            ("text/plain; charset=us-ascii", text.encode()),
            ("message/feedback-report", report.encode()),
            ("message/rfc822", returned),
        ],
    )


def dsn(sender: str, rcpt: str, original: bytes) -> bytes:
    """An RFC 3464 delivery status notification: ``rcpt`` failed permanently (5.1.1)."""
    boundary = _boundary()
    address = rcpt.strip("<>")
    text = (
        f"This is the mail system at host {SIMULATOR_DOMAIN}.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered to one or more\r\n"
        "recipients (Clarion mailbox simulator).\r\n\r\n"
        f"<{address}>: host {SIMULATOR_DOMAIN} said: 550 5.1.1 User unknown\r\n"
    )
    status = (
        f"Reporting-MTA: dns; {SIMULATOR_DOMAIN}\r\n"
        f"Arrival-Date: {formatdate(usegmt=True)}\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {address}\r\n"
        f"Original-Recipient: rfc822; {address}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Remote-MTA: dns; {SIMULATOR_DOMAIN}\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown in\r\n"
        "    virtual mailbox table\r\n"
    )
    head = original.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return _multipart(
        headers=[
            ("From", f"Mail Delivery System <MAILER-DAEMON@{SIMULATOR_DOMAIN}>"),
            ("To", f"<{sender}>"),
            ("Subject", "Undelivered Mail Returned to Sender"),
            ("Auto-Submitted", "auto-replied"),
        ],
        report_type="delivery-status",
        boundary=boundary,
        parts=[
            ("text/plain; charset=us-ascii", text.encode()),
            ("message/delivery-status", status.encode()),
            ("text/rfc822-headers", head),
        ],
    )


def auto_reply(sender: str, rcpt: str, original: Message) -> bytes:
    """An RFC 3834 out-of-office reply to ``original`` (its parsed headers)."""
    subject = " ".join(str(original.get("Subject", "")).split())
    message_id = str(original.get("Message-ID", "")).strip()
    lines = [
        f"From: <{rcpt.strip('<>')}>",
        f"To: <{sender}>",
        f"Subject: {Header(f'Out of Office: {subject}'[:200], 'utf-8').encode()}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {make_msgid(domain=SIMULATOR_DOMAIN)}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    if message_id.startswith("<"):
        lines += [f"In-Reply-To: {message_id}", f"References: {message_id}"]
    body = "I am out of the office until next week and have no access to my mail (mailbox simulator).\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _multipart(
    *, headers: list[tuple[str, str]], report_type: str, boundary: str, parts: list[tuple[str, bytes]]
) -> bytes:
    """A ``multipart/report`` mail with CRLF line ends."""
    head = [
        *(f"{name}: {value}" for name, value in headers),
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {make_msgid(domain=SIMULATOR_DOMAIN)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{boundary}"',
    ]
    out = [("\r\n".join(head) + "\r\n\r\n").encode()]
    for content_type, body in parts:
        out.append(f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode())
        out.append(body if body.endswith(b"\r\n") else body + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _boundary() -> str:
    return f"=_clarion_simulator_{secrets.token_hex(12)}"
