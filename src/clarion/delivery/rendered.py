"""The mail of a message as its recipient saw it: the captured copy when there is one, else rendered again.

Where the bundled SMTP server captures mail (embedded mode), each attempt's Message-ID (kept in the message's
history) finds the copy in the outbox: the exact bytes sent. Elsewhere only a message not sent can be shown:
the ledger keeps its job payload (context, profile) until it is sent, so the campaign's compiled content
renders it again. A sent message keeps no payload (the ledger never stores personal data it no longer
needs), so without a captured copy its mail cannot be shown.
"""

from __future__ import annotations

import asyncio
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Literal

import msgspec

from clarion.campaigns import service as campaigns
from clarion.db.uow import UnitOfWork
from clarion.delivery.attribution import OutboxScope
from clarion.delivery.channels.email.channel import EmailChannel, email_address
from clarion.delivery.repository import MessageRepository
from clarion.delivery.schemas import MailHeader, MailRead, StoredMessage
from clarion.devsmtp.outbox import CapturedMail, Outbox, bodies_of
from clarion.errors import Conflict, NotFound
from clarion.kit.repository import require
from clarion.models.messages import Message


async def message_mail(
    uow: UnitOfWork,
    outbox: Outbox | None,
    scope: OutboxScope,
    message_id: str,
    *,
    org_id: str,
    sandbox_id: str,
) -> MailRead:
    """The mail of one message of the sandbox: its latest captured copy, else rendered again if not sent."""
    repo = MessageRepository(uow.session, org_id, sandbox_id)
    message = require(await repo.get(message_id), NotFound(f"Message {message_id!r} does not exist"))
    if outbox is not None:
        stored = {event.header_message_id for event in await repo.events(message_id)}
        wanted = {value for value in (*stored, message.header_message_id) if value}
        if wanted:
            mail = await asyncio.to_thread(_latest, outbox, scope, wanted)
            if mail is not None:
                return await captured_mail(outbox, scope, mail.id)
    if message.payload is not None and message.channel == "email":
        return await _render_again(uow, message)
    raise NotFound(
        f"Message {message_id!r}: its mail is not kept (no captured copy; a sent message keeps no payload)"
    )


async def captured_mail(outbox: Outbox, scope: OutboxScope, mail_id: str) -> MailRead:
    """One captured mail of the reader's scope, parsed for display."""
    missing = NotFound(f"No captured message with id {mail_id!r}")

    def read() -> MailRead:
        mail = outbox.get(mail_id)
        if mail is None or not scope.admits(mail):
            raise missing
        parsed = outbox.parse(mail_id)
        return _mail_read(parsed, source="outbox", captured_mail_id=mail_id)

    return await asyncio.to_thread(read)


def _latest(outbox: Outbox, scope: OutboxScope, wanted: set[str]) -> CapturedMail | None:
    found = outbox.list(limit=1, keep=lambda mail: mail.message_id in wanted and scope.admits(mail))
    return found[0] if found else None


async def _render_again(uow: UnitOfWork, message: Message) -> MailRead:
    settings = await campaigns.delivery_settings(
        uow, org_id=message.org_id, sandbox_id=message.sandbox_id, campaign_id=message.campaign_id
    )
    if settings is None or settings.channel != "email":
        raise NotFound(f"Message {message.id!r}: its campaign or channel configuration no longer exists")
    stored = msgspec.convert(message.payload, StoredMessage)
    try:
        channel = EmailChannel(settings.configuration, settings.content.get("email") or {}, None)
        address = email_address(stored.recipient) or message.recipient
        written, _ = channel.write(stored.recipient, address)
    except (KeyError, ValueError) as error:
        raise Conflict(
            f"Message {message.id!r} cannot be rendered with its campaign's content: {error}"
        ) from None
    parsed = BytesParser(policy=policy.default).parsebytes(written.raw)
    return _mail_read(parsed, source="rendered", campaign_version=settings.campaign_version)


def _mail_read(
    parsed: EmailMessage,
    *,
    source: Literal["outbox", "rendered"],
    captured_mail_id: str | None = None,
    campaign_version: int | None = None,
) -> MailRead:
    bodies = bodies_of(parsed)
    return MailRead(
        source=source,
        subject=str(parsed.get("subject", "")),
        headers=[MailHeader(name=name, value=str(value)) for name, value in parsed.items()],
        text=bodies.text,
        html=bodies.html,
        captured_mail_id=captured_mail_id,
        campaign_version=campaign_version,
    )
