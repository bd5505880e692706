"""HTTP endpoints of the delivery domain: the message ledger, the captured outbox, campaign previews and
statistics (/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from clarion.api.deps import ContainerDep, UoWDep
from clarion.delivery import campaign_stats as statistics
from clarion.delivery import captured, preview, rendered, service
from clarion.delivery.schemas import (
    Bucket,
    CampaignStats,
    CapturedMailRead,
    MailRead,
    MessageDetail,
    MessageEventKind,
    MessageHistory,
    MessageRead,
    MessageStats,
    MessageStatus,
    PreviewRead,
    PreviewRequest,
    ResendRequest,
    ResendResult,
    SavedPreviewRequest,
)
from clarion.errors import Invalid, NotFound
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id, Text, text_query
from clarion.tenancy.gateway import ReaderDep, UserDep

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.get("/messages", response_model=Page[MessageRead])
async def list_messages(
    principal: ReaderDep,
    uow: UoWDep,
    page: Annotated[PageParams, Depends(page_params)],
    execution_id: Annotated[str | None, text_query(alias="executionId")] = None,
    campaign_id: Annotated[str | None, text_query(alias="campaignId")] = None,
    status: MessageStatus | None = None,
    recipient: Text = None,
    since: Annotated[datetime | None, Query(description="Accepted at or after (ISO-8601 with zone)")] = None,
    until: Annotated[datetime | None, Query(description="Accepted before (ISO-8601 with zone)")] = None,
    event: Annotated[
        MessageEventKind | None,
        Query(description="Only messages whose history has an event of this kind (e.g. opened, bounced)"),
    ] = None,
) -> Page[MessageRead]:
    """The delivery ledger, newest first."""
    filters = {
        "executionId": execution_id,
        "campaignId": campaign_id,
        "status": status,
        "recipient": recipient,
        "event": event,
    }
    window = service.accepted_window(since, until)
    items, total = await service.list_messages(
        uow, principal.org_id, principal.sandbox_id, filters, window, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/messages/stats", response_model=MessageStats)
async def message_stats(
    principal: ReaderDep,
    uow: UoWDep,
    since: Annotated[
        datetime | None,
        Query(description="Start of the window (ISO-8601 with zone); default: an hour (minute) or a day ago"),
    ] = None,
    bucket: Annotated[
        Bucket, Query(description="Bucket size: minute (up to 24 h back) or hour (31 days)")
    ] = ("minute"),
) -> MessageStats:
    """Messages by status per time bucket, for charts: throughput and failure rate."""
    return await service.stats(uow, principal.org_id, principal.sandbox_id, since=since, bucket=bucket)


@router.get("/messages/{message_id}", response_model=MessageDetail)
async def read_message(message_id: Id, principal: ReaderDep, uow: UoWDep) -> MessageDetail:
    """One ledger row and its history (``events``, oldest first, as ``/v1/messages/{id}/events`` lists)."""
    return await service.message_detail(uow, principal.org_id, principal.sandbox_id, message_id)


@router.get("/messages/{message_id}/events", response_model=MessageHistory)
async def message_events(message_id: Id, principal: ReaderDep, uow: UoWDep) -> MessageHistory:
    """A message's history: accepted, each attempt's outcome with the server's answer, each resend, and the
    feedback that came back (bounced, complained, unsubscribed, opened, clicked) with its ``data``."""
    return await service.history(uow, principal.org_id, principal.sandbox_id, message_id)


@router.get("/messages/{message_id}/mail", response_model=MailRead)
async def message_mail(
    message_id: Id, principal: ReaderDep, uow: UoWDep, container: ContainerDep
) -> MailRead:
    """The message's mail: the captured copy (embedded mode), else rendered again while it is not sent."""
    settings = container.settings
    outbox = captured.outbox_at(settings.outbox_path) if settings.should_capture_smtp else None
    scope = captured.caller_scope(container.secrets, principal)
    return await rendered.message_mail(
        uow, outbox, scope, message_id, org_id=principal.org_id, sandbox_id=principal.sandbox_id
    )


@router.post("/messages/resend", response_model=ResendResult)
async def resend_messages(body: ResendRequest, principal: UserDep, uow: UoWDep) -> ResendResult:
    """Queue failed or expired messages again (filter by message, execution, campaign or recipient)."""
    filters = {
        "messageId": body.message_id,
        "executionId": body.execution_id,
        "campaignId": body.campaign_id,
        "recipient": body.recipient,
    }
    if not any(filters.values()):
        raise Invalid("messageId, executionId, campaignId or recipient: give at least one filter")
    ids = await service.resend(uow, principal.org_id, principal.sandbox_id, filters, limit=body.limit)
    return ResendResult(requeued=len(ids), message_ids=ids)


@router.get("/outbox", response_model=Page[CapturedMailRead])
async def list_outbox(
    principal: ReaderDep,
    container: ContainerDep,
    page: Annotated[PageParams, Depends(page_params)],
    recipient: Text = None,
) -> Page[CapturedMailRead]:
    """Mail captured by the bundled SMTP server that the caller's organization sent from this sandbox.

    Newest first. Only where the instance captures mail (embedded mode, or ``CLARION_SMTP_CAPTURE=1``).
    Mail that no organization sent (written to the capture port directly) is for the operator's
    ``clarion outbox --unattributed``, never for an API caller.
    """
    settings = container.settings
    if not settings.should_capture_smtp:
        raise NotFound("The outbox exists only where the bundled SMTP capture server runs (embedded mode)")
    scope = captured.caller_scope(container.secrets, principal)
    found = await captured.page(
        captured.outbox_at(settings.outbox_path),
        scope,
        limit=page.limit,
        offset=page.offset,
        recipient=recipient,
    )
    items = [CapturedMailRead.model_validate(mail) for mail in found.items]
    return Page(items=items, total=found.total, limit=page.limit, offset=page.offset)


@router.get("/outbox/{mail_id}", response_model=MailRead)
async def read_outbox_mail(mail_id: Id, principal: ReaderDep, container: ContainerDep) -> MailRead:
    """One captured mail of the caller's organization and sandbox: headers and bodies."""
    settings = container.settings
    if not settings.should_capture_smtp:
        raise NotFound("The outbox exists only where the bundled SMTP capture server runs (embedded mode)")
    scope = captured.caller_scope(container.secrets, principal)
    return await rendered.captured_mail(captured.outbox_at(settings.outbox_path), scope, mail_id)


@router.post("/campaigns/preview", tags=["campaigns"])
async def preview_draft(body: PreviewRequest, principal: ReaderDep, uow: UoWDep) -> PreviewRead:
    """Render draft content with sample data, as delivery would; nothing is saved.

    Refusals are a save's: the field, ``line`` and ``column`` of a template that does not parse or (high
    throughput) reads ``profile.*``. ``profile`` picks a stored profile by identity (standard mode only).
    """
    return await preview.preview_draft(uow, principal, body)


@router.post("/campaigns/{campaign_id}/preview", tags=["campaigns"])
async def preview_campaign(
    campaign_id: Id, body: SavedPreviewRequest, principal: ReaderDep, uow: UoWDep
) -> PreviewRead:
    """Render a saved campaign's current version with sample data, as delivery would."""
    return await preview.preview_saved(uow, principal, campaign_id, body)


@router.get("/campaigns/{campaign_id}/stats", tags=["campaigns"])
async def campaign_stats(
    campaign_id: Id,
    principal: ReaderDep,
    uow: UoWDep,
    hours: Annotated[int, Query(ge=1, le=720, description="Hours of the hourly series (1 to 720)")] = 24,
) -> CampaignStats:
    """A campaign's messages by status and per hour of acceptance over the last ``hours``; sent, delivered,
    bounced (hard and soft), complained, unsubscribed, suppressed, unique opens (a person's apart from
    machine opens) and clicks, and their rates: counted per message from the ledger and the message events."""
    return await statistics.campaign_stats(uow, principal, campaign_id, hours=hours)
