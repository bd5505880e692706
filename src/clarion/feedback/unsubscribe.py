"""One-click unsubscribe (RFC 8058, RFC 2369): what the ``/u/{token}`` link of a Marketing message does.

The token (``delivery/tokens.MessageTokens.unsubscribe``) is the capability: HMAC-signed, naming one
message, unguessable; there is no cookie and no session, so there is nothing to forge a request *with* but
the link itself. ``GET`` only shows a confirmation page and changes nothing (mail security scanners and
link previewers fetch every link of a message); ``POST`` — the mailbox provider's one-click request with the
body ``List-Unsubscribe=One-Click``, or the page's own button — suppresses the recipient for Marketing mail
(``suppressions.service.suppress``) and records ``unsubscribed`` on the message, in one transaction.
Repeating it is harmless: the suppression is idempotent and the event is written once per message.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from clarion.db.uow import UnitOfWork
from clarion.delivery.feedback import Feedback, MessageRef, find_messages, record_feedback
from clarion.feedback import repository
from clarion.kit.clock import utcnow
from clarion.suppressions import service as suppressions
from clarion.suppressions.schemas import NewSuppression

CATEGORY = "Marketing"
Method = Literal["one-click", "page"]


class Unsubscribed(NamedTuple):
    """The outcome of an unsubscribe request: the address and whether this request changed anything."""

    address: str
    new: bool


async def recipient(uow: UnitOfWork, message_id: str) -> str | None:
    """The address a message went to, or None when the ledger no longer has it (a read, nothing written)."""
    ref = (await find_messages(uow.session, [message_id])).get(message_id)
    return None if ref is None else ref.recipient


async def unsubscribe(uow: UnitOfWork, message_id: str, method: Method) -> Unsubscribed | None:
    """Suppress the message's recipient for Marketing and record ``unsubscribed`` (once); commits.

    None when the message is unknown (purged from the ledger): there is no address to suppress."""
    found = await find_messages(uow.session, [message_id])
    ref: MessageRef | None = found.get(message_id)
    if ref is None or not ref.recipient:
        return None
    await suppressions.suppress(
        uow.session,
        ref.org_id,
        ref.sandbox_id,
        [
            NewSuppression(
                address=ref.recipient,
                reason="unsubscribe",
                category=CATEGORY,
                message_id=ref.id,
                detail=f"List-Unsubscribe ({method})",
            )
        ],
        source="unsubscribe",
    )
    new = not await repository.has_event(uow.session, ref.id, ref.org_id, ("unsubscribed",))
    if new:
        feedback = Feedback(
            message_id=ref.id,
            kind="unsubscribed",
            at=utcnow(),
            data={"method": method, "category": CATEGORY},
        )
        await record_feedback(uow, found, [feedback])
    await uow.commit()
    return Unsubscribed(ref.recipient, new)


def masked(address: str) -> str:
    """An address shown to whoever holds the link, without giving it away whole: ``j•••e@example.com``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "•••"
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"
