"""Audience executions (``/ajo/im/executions/audience``), immediate or scheduled with ``executeAt``.

The execution is a row; triggering it is a delayed queue job (durable: a scheduled execution survives
restarts), which resolves the recipients and fans them out into delivery jobs of 20. Until audiences can
be evaluated, recipients are given explicitly in the request (Clarion's ``recipients`` extension).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import CampaignSnapshot
from clarion.db.uow import UnitOfWork
from clarion.delivery import service as delivery
from clarion.errors import Invalid, RateLimited
from clarion.executions import errors, service
from clarion.executions.repository import ExecutionRepository
from clarion.executions.schemas import (
    AudienceRef,
    AudienceRequest,
    ExecutionRequest,
    ExecutionResponse,
    ExecutionStatusResponse,
    Recipient,
    ScheduledExecutionResponse,
    TriggerJob,
    audience_request_decoder,
)
from clarion.kit.clock import iso_milli, utcnow
from clarion.kit.ids import new_id
from clarion.kit.repository import require
from clarion.models.messages import Execution
from clarion.queue.port import JobSpec
from clarion.tenancy import service as tenancy
from clarion.tenancy.principal import Principal, job_principal
from clarion.usage import service as usage
from clarion.usage.schemas import Tally

TRIGGER_TASK = "executions.trigger"
MAX_EXPLICIT_RECIPIENTS = 1000
_CHUNK = service.MAX_RECIPIENTS


def decode(body: bytes) -> AudienceRequest:
    """Decode an audience body; malformed ones are a 400 naming the JSON path."""
    try:
        return audience_request_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise errors.invalid(errors.BODY, f"Invalid request body: {error}") from None


async def submit(
    uow: UnitOfWork, principal: Principal, request: AudienceRequest, *, body_size: int
) -> ExecutionResponse | ScheduledExecutionResponse:
    """Check and store the execution, and queue its trigger (now, or at ``executeAt``)."""
    ids = {"requestId": request.requestId, "campaignId": request.campaignId}
    now = utcnow()
    recipients = _check(request, ids, body_size=body_size)
    execute_at = _execute_at(request, ids, now)
    snapshot = await campaigns.snapshot(uow, principal, request.campaignId)
    _check_campaign(snapshot, ids, at=execute_at or now, now=now)
    # The quota is checked at submission (a 429 the caller sees) and again at fan-out, where it is counted.
    await usage.check_available(uow, usage.quotas_of(principal), service.STANDARD.name, len(recipients))
    execution = Execution(
        id=new_id(),
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        campaign_id=request.campaignId,
        request_id=request.requestId or "",
        audience_id=request.audience.id if request.audience else None,
        context=request.context or {},
        recipients=[msgspec.to_builtins(r) for r in recipients],
        status="InProgress",
        targeted_profile_count=len(recipients),
        created_by=principal.technical_account,
    )
    if execute_at is not None:
        execution.schedule_id, execution.execute_at, execution.schedule_status = (
            new_id(),
            execute_at,
            "Scheduled",
        )
    ExecutionRepository(uow.session, principal.org_id, principal.sandbox_id).add(execution)
    delay = (execute_at - now).total_seconds() if execute_at else 0.0
    payload = TriggerJob(principal.org_id, principal.sandbox_id, execution.id)
    uow.defer(
        [JobSpec(TRIGGER_TASK, payload, delay=delay, job_id=f"trigger:{execution.id}", unique_for=86400)]
    )
    await uow.commit()
    if execute_at is not None:
        return _scheduled_view(execution)
    stamp = iso_milli(execution.created_at)
    return ExecutionResponse(
        executionId=execution.id,
        requestId=request.requestId or "",
        createdAt=stamp,
        createdBy=principal.technical_account,
        modifiedAt=stamp,
        modifiedBy=principal.technical_account,
    )


def _check(request: AudienceRequest, ids: dict[str, str | None], *, body_size: int) -> list[Any]:
    if (request.audience is None) == (request.recipients is None):
        raise errors.invalid(
            errors.AUDIENCE_UNSUPPORTED,
            "audience or recipients: give exactly one (audience.id for a segment, or explicit recipients)",
            **ids,
        )
    if request.audience is not None:
        raise errors.invalid(
            errors.AUDIENCE_UNSUPPORTED,
            f"audience.id: audience {request.audience.id!r} cannot be evaluated on this instance yet; "
            "give the recipients explicitly",
            **ids,
        )
    assert request.recipients is not None
    if request.context and "system" in request.context:
        raise errors.invalid(errors.CONTEXT_RESERVED, "context.system: reserved for the platform", **ids)
    as_unitary = ExecutionRequest(request.requestId or "", request.campaignId, request.recipients)
    service.check_request(
        as_unitary, service.STANDARD, body_size=body_size, max_recipients=MAX_EXPLICIT_RECIPIENTS
    )
    return list(request.recipients)


def _execute_at(request: AudienceRequest, ids: dict[str, str | None], now: datetime) -> datetime | None:
    if request.schedule is None:
        return None
    at = request.schedule.executeAt
    if at.tzinfo is None:
        raise errors.invalid(
            errors.BODY, "schedule.executeAt: needs a time zone (e.g. 2026-12-01T09:00:00Z)", **ids
        )
    at = at.astimezone(UTC)
    if at <= now:
        raise errors.invalid(errors.BODY, "schedule.executeAt: must lie in the future", **ids)
    return at


def _check_campaign(
    snapshot: CampaignSnapshot | None, ids: dict[str, str | None], *, at: datetime, now: datetime
) -> None:
    request_ids = {key: value or "" for key, value in ids.items()}
    if snapshot is not None and snapshot.high_throughput:
        raise errors.invalid(
            errors.CAMPAIGN_MODE,
            "campaign is a high-throughput campaign: audiences run standard campaigns",
            **ids,
        )
    if at == now:
        service.check_campaign(snapshot, request_ids, service.STANDARD, now)
        return
    # Scheduled: the campaign must be active now (Live or Scheduled) and running at the execution time.
    if snapshot is None or snapshot.status not in ("Live", "Scheduled"):
        service.check_campaign(snapshot, request_ids, service.STANDARD, now)
    service.check_campaign(snapshot, request_ids, service.STANDARD, at)


async def trigger(uow: UnitOfWork, job_payload: Mapping[str, Any]) -> None:
    """Task ``executions.trigger``: fan the recipients out into delivery jobs (or record why not)."""
    payload = msgspec.convert(job_payload, TriggerJob)
    principal = job_principal(payload.org, payload.sandbox)
    repo = ExecutionRepository(uow.session, principal.org_id, principal.sandbox_id)
    execution = await repo.get(payload.execution)
    if execution is None or execution.schedule_status == "Cancelled" or execution.status != "InProgress":
        return
    if execution.schedule_status == "Triggered":
        return  # a redelivered trigger: its jobs were queued in the same commit that set this
    now = utcnow()
    snapshot = await campaigns.snapshot(uow, principal, execution.campaign_id)
    try:
        snapshot = service.check_campaign(
            snapshot, {"campaignId": execution.campaign_id}, service.STANDARD, now
        )
        # The quota first: an execution over it reads and creates no profile.
        await _check_quota(uow, execution)
        jobs = await _delivery_jobs(uow, principal, execution, snapshot)
        await _count(uow, execution, now)
    except (Invalid, RateLimited) as error:
        execution.status = "Failed"
        execution.context = {**execution.context, "failure": error.detail}
        jobs = []
    if execution.schedule_status is not None:
        execution.schedule_status = "Triggered"
    execution.modified_at = now
    uow.defer(jobs)
    await uow.commit()


async def _check_quota(uow: UnitOfWork, execution: Execution) -> None:
    """Gate the recipients against the quota as stored now, in the fan-out's transaction."""
    owner = await tenancy.get_organization(uow, execution.org_id)
    quotas = usage.organization_quotas(owner)
    await usage.check_available(uow, quotas, service.STANDARD.name, len(execution.recipients))


async def _count(uow: UnitOfWork, execution: Execution, now: datetime) -> None:
    """Count the recipients in the fan-out's transaction (the task claims its job in that transaction, so a
    redelivered trigger counts nothing)."""
    messages = len(execution.recipients)
    await usage.count(
        uow, [Tally(execution.org_id, execution.sandbox_id, service.STANDARD.name, now.date(), messages)]
    )


async def _delivery_jobs(
    uow: UnitOfWork, principal: Principal, execution: Execution, snapshot: CampaignSnapshot
) -> list[JobSpec]:
    recipients = msgspec.convert(execution.recipients, list[Recipient])
    accepted_at = iso_milli(utcnow())
    jobs = []
    for start in range(0, len(recipients), _CHUNK):
        chunk = ExecutionRequest(
            execution.request_id, execution.campaign_id, recipients[start : start + _CHUNK]
        )
        resolved = await service.resolve_profiles(uow, principal, chunk, snapshot)
        jobs.append(
            service.delivery_job(
                principal,
                chunk,
                snapshot,
                execution=execution.id,
                accepted_at=accepted_at,
                profiles=resolved,
                dedupe_seconds=0.0,
                shared_context=execution.context,
                first_index=start,
                job_id=f"{execution.id}:{start // _CHUNK}",
            )
        )
    return jobs


async def status(uow: UnitOfWork, principal: Principal, execution_id: str) -> ExecutionStatusResponse:
    """``GET /executions/audience/{id}``: InProgress until every message is final, then Succeeded/Failed."""
    execution = require(
        await ExecutionRepository(uow.session, principal.org_id, principal.sandbox_id).get(execution_id),
        errors.not_found(errors.EXECUTION_UNKNOWN, f"execution {execution_id!r} does not exist"),
    )
    return await _status_view(uow, execution)


async def _status_view(uow: UnitOfWork, execution: Execution) -> ExecutionStatusResponse:
    state = execution.status
    if state == "InProgress" and execution.schedule_status != "Scheduled":
        counts = await delivery.execution_summary(uow, execution.org_id, execution.sandbox_id, execution.id)
        final = counts.get("sent", 0) + counts.get("failed", 0) + counts.get("expired", 0)
        if final >= execution.targeted_profile_count:
            state = "Succeeded" if counts.get("sent", 0) else "Failed"
    return ExecutionStatusResponse(
        executionId=execution.id,
        status=state,
        createdAt=iso_milli(execution.created_at),
        campaignId=execution.campaign_id,
        audienceId=execution.audience_id,
        targetedProfileCount=execution.targeted_profile_count,
    )


async def schedule(uow: UnitOfWork, principal: Principal, schedule_id: str) -> ScheduledExecutionResponse:
    """``GET /executions/schedules/{id}``."""
    execution = await _scheduled(uow, principal, schedule_id)
    view = _scheduled_view(execution)
    view.executionDetails = await _status_view(uow, execution)
    return view


async def cancel(uow: UnitOfWork, principal: Principal, schedule_id: str) -> None:
    """``DELETE /executions/schedules/{id}``: only before it has been triggered."""
    execution = await _scheduled(uow, principal, schedule_id)
    if execution.schedule_status != "Scheduled":
        raise errors.invalid(
            errors.SCHEDULE_TRIGGERED,
            f"schedule {schedule_id!r} is {execution.schedule_status}; it cannot be deleted",
        )
    execution.schedule_status = "Cancelled"
    execution.status = "Failed"
    execution.modified_at = utcnow()
    await uow.commit()


async def _scheduled(uow: UnitOfWork, principal: Principal, schedule_id: str) -> Execution:
    repo = ExecutionRepository(uow.session, principal.org_id, principal.sandbox_id)
    execution = await repo.by_schedule(schedule_id)
    if execution is None or execution.schedule_status == "Cancelled":
        raise errors.not_found(errors.SCHEDULE_UNKNOWN, f"schedule {schedule_id!r} does not exist")
    return execution


def _scheduled_view(execution: Execution) -> ScheduledExecutionResponse:
    return ScheduledExecutionResponse(
        scheduleId=execution.schedule_id or "",
        scheduleStatus=execution.schedule_status or "Triggered",
        campaignId=execution.campaign_id,
        executeAt=iso_milli(execution.execute_at) if execution.execute_at else None,
        audience=AudienceRef(execution.audience_id) if execution.audience_id else None,
    )
