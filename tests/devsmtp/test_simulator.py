"""The capture server's mailbox simulator over real SMTP: refusals at RCPT, reports sent back."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from email.message import Message
from pathlib import Path

import aiosmtplib
import pytest

from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.server import CaptureServer
from tests.delivery.servers import SmtpServer

SENDER = "b-verp0123@bounces.shop.example"
MAIL = (
    b"From: Shop <news@shop.example>\r\nTo: someone\r\nSubject: Your order\r\n"
    b"Message-ID: <42.tag@shop.example>\r\n\r\nHello\r\n"
)


@pytest.fixture
async def listener() -> AsyncIterator[SmtpServer]:
    """Stands in for the feedback listener: records what the simulator sends back."""
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def capture(tmp_path: Path, listener: SmtpServer) -> AsyncIterator[CaptureServer]:
    async with CaptureServer(
        Outbox(tmp_path / "outbox"), port=0, feedback_to=("127.0.0.1", listener.port)
    ) as server:
        yield server


def blocks_of(part: Message) -> list[Message]:
    """The header blocks the ``email`` package parsed a ``message/*`` report part into."""
    payload = part.get_payload()
    assert isinstance(payload, list)
    return [block for block in payload if isinstance(block, Message)]


async def send(port: int, recipients: list[str], *, sender: str = SENDER) -> dict[str, tuple[int, str]]:
    """Send MAIL to ``recipients``; the refusals by recipient (an empty dict: all accepted)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as client:
        try:
            errors, _ = await client.sendmail(sender, recipients, MAIL)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            return {error.recipient: (error.code, error.message) for error in refused.recipients}
    return {address: (code, message) for address, (code, message) in errors.items()}


async def test_bounce_and_softbounce_are_refused_at_rcpt(
    capture: CaptureServer, listener: SmtpServer
) -> None:
    refused = await send(
        capture.port,
        [
            "bounce@simulator.clarion.test",
            "SoftBounce@Simulator.Clarion.Test",
            "success@simulator.clarion.test",
        ],
    )
    assert refused["bounce@simulator.clarion.test"][0] == 550
    assert refused["bounce@simulator.clarion.test"][1].startswith("5.1.1")
    assert refused["SoftBounce@Simulator.Clarion.Test"][0] == 452
    assert refused["SoftBounce@Simulator.Clarion.Test"][1].startswith("4.2.2")
    assert "success@simulator.clarion.test" not in refused
    (mail,) = capture.outbox.list()
    assert mail.rcpt_tos == ("success@simulator.clarion.test",)
    await capture.stop()  # waits for any report in flight: success@ sends none
    assert listener.messages == []


async def test_complaint_ooto_and_bounce_async_send_their_reports_to_the_envelope_sender(
    capture: CaptureServer, listener: SmtpServer
) -> None:
    recipients = [f"{name}@simulator.clarion.test" for name in ("complaint", "ooto", "bounce-async")]
    assert await send(capture.port, recipients) == {}
    await listener.wait_for_messages(3, timeout=10)

    by_type = {}
    for received in listener.messages:
        assert received.mail_from == "<>"  # reports go out with a null sender: no loops
        assert received.rcpt_tos == (SENDER,)
        parsed = email.message_from_bytes(received.data, policy=email.policy.default)
        by_type[parsed.get_param("report-type") or "auto-reply"] = parsed

    complaint = by_type["feedback-report"]
    report = next(part for part in complaint.walk() if part.get_content_type() == "message/feedback-report")
    fields = blocks_of(report)[0]
    assert fields["Feedback-Type"] == "abuse"
    assert fields["Original-Mail-From"] == f"<{SENDER}>"
    assert fields["Original-Rcpt-To"] == "<complaint@simulator.clarion.test>"
    assert any(part.get_content_type() == "message/rfc822" for part in complaint.walk())

    dsn = by_type["delivery-status"]
    status = next(part for part in dsn.walk() if part.get_content_type() == "message/delivery-status")
    per_recipient = blocks_of(status)[1]
    assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "5.1.1")
    assert per_recipient["Final-Recipient"] == "rfc822; bounce-async@simulator.clarion.test"

    reply = by_type["auto-reply"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Subject"] == "Out of Office: Your order"
    assert reply["In-Reply-To"] == "<42.tag@shop.example>"


async def test_nothing_is_sent_back_to_a_null_sender(capture: CaptureServer, listener: SmtpServer) -> None:
    assert await send(capture.port, ["complaint@simulator.clarion.test"], sender="") == {}
    await capture.stop()
    assert listener.messages == []
    assert len(capture.outbox.list()) == 1


async def test_a_report_the_listener_refuses_for_good_is_not_retried(
    capture: CaptureServer, listener: SmtpServer
) -> None:
    listener.rcpt_answers[SENDER] = "550 5.1.1 No such bounce address here"
    assert await send(capture.port, ["complaint@simulator.clarion.test"]) == {}
    await capture.stop()  # returns once the report gave up: after one attempt, not after the retries
    assert listener.messages == []
