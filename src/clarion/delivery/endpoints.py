"""HTTP endpoints of the delivery domain: the message ledger and the captured outbox (/v1)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from clarion.api.deps import ContainerDep, UoWDep
from clarion.delivery import service
from clarion.delivery.repository import MessageRepository
from clarion.delivery.schemas import CapturedMailRead, MessageRead, MessageStatus, ResendRequest, ResendResult
from clarion.devsmtp.outbox import Outbox
from clarion.errors import Invalid, NotFound
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id, Text, text_query
from clarion.kit.repository import require
from clarion.tenancy.gateway import PrincipalDep

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.get("/messages", response_model=Page[MessageRead])
async def list_messages(
    principal: PrincipalDep,
    uow: UoWDep,
    page: Annotated[PageParams, Depends(page_params)],
    execution_id: Annotated[str | None, text_query(alias="executionId")] = None,
    campaign_id: Annotated[str | None, text_query(alias="campaignId")] = None,
    status: MessageStatus | None = None,
    recipient: Text = None,
) -> Page[MessageRead]:
    """The delivery ledger, newest first."""
    filters = {
        "executionId": execution_id,
        "campaignId": campaign_id,
        "status": status,
        "recipient": recipient,
    }
    repo = MessageRepository(uow.session, principal.org_id, principal.sandbox_id)
    rows, total = await repo.search(filters, limit=page.limit, offset=page.offset)
    items = [MessageRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/messages/{message_id}", response_model=MessageRead)
async def read_message(message_id: Id, principal: PrincipalDep, uow: UoWDep) -> MessageRead:
    """One ledger row."""
    row = await MessageRepository(uow.session, principal.org_id, principal.sandbox_id).get(message_id)
    return MessageRead.model_validate(require(row, NotFound(f"Message {message_id!r} does not exist")))


@router.post("/messages/resend", response_model=ResendResult)
async def resend_messages(body: ResendRequest, principal: PrincipalDep, uow: UoWDep) -> ResendResult:
    """Queue failed or expired messages again (filter by execution, campaign or recipient)."""
    filters = {"executionId": body.execution_id, "campaignId": body.campaign_id, "recipient": body.recipient}
    if not any(filters.values()):
        raise Invalid("executionId, campaignId or recipient: give at least one filter")
    ids = await service.resend(uow, principal.org_id, principal.sandbox_id, filters, limit=body.limit)
    return ResendResult(requeued=len(ids), message_ids=ids)


@router.get("/outbox", response_model=Page[CapturedMailRead])
async def list_outbox(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Annotated[PageParams, Depends(page_params)],
    recipient: Text = None,
) -> Page[CapturedMailRead]:
    """Mail captured by the bundled SMTP server, newest first (embedded mode only).

    The capture server is a development tool of the whole instance: every organization of an embedded
    instance sees the same outbox. It does not exist in production mode.
    """
    if not container.settings.embedded:
        raise NotFound("The outbox exists only in embedded mode (the bundled SMTP capture server)")
    del principal  # authenticated; the outbox is instance-wide by nature
    outbox = Outbox(container.settings.outbox_path)
    mails = await asyncio.to_thread(outbox.list, limit=page.limit, offset=page.offset, recipient=recipient)
    total = await asyncio.to_thread(outbox.count, recipient=recipient)
    items = [CapturedMailRead.model_validate(mail) for mail in mails]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
