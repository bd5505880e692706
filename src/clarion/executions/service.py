"""The execution API (contract §1.3-1.7): ``Executions.trigger`` and its rules (request checks, campaign
checks, the delivery job), which audience executions share.

Nothing here reads the database per request on the high-throughput path: campaigns come from a short-lived
cache (a stopped campaign keeps accepting for at most ``snapshot_ttl`` seconds plus one reload), the caps
from the limiter, and accepted requests reach the queue in batches: whatever arrived while the previous
batch was being written.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import CampaignSnapshot
from clarion.db.uow import UnitOfWork
from clarion.delivery import service as delivery
from clarion.delivery.schemas import ChannelData, DeliveryJob
from clarion.delivery.schemas import Recipient as JobRecipient
from clarion.executions import errors
from clarion.executions.schemas import (
    AepRecipient,
    ExecutionRequest,
    ExecutionResponse,
    ExternalRecipient,
    execution_request_decoder,
)
from clarion.kit.batcher import GroupCommitter
from clarion.kit.cache import RefreshingCache
from clarion.kit.clock import iso_milli, utcnow
from clarion.kit.ids import new_reference
from clarion.limiter.port import Limiter, RateLimit, default_burst
from clarion.profiles import service as profiles
from clarion.queue.port import JobQueue, JobSpec
from clarion.tenancy.principal import Principal
from clarion.usage.meter import UsageMeter
from clarion.usage.schemas import Tally

MAX_RECIPIENTS = 20
MAX_CONTEXT_BYTES = 200 * 1024
_EXECUTION_NAMESPACE = uuid.UUID("6f1c1f0e-3c8a-4f43-9d4b-7d1c8f6a2b10")


@dataclass(frozen=True, slots=True)
class Mode:
    """Standard (``/unitary``) or high throughput (``/highthroughput``)."""

    name: str
    high_throughput: bool


STANDARD = Mode("standard", high_throughput=False)
HIGH_THROUGHPUT = Mode("high-throughput", high_throughput=True)


class _Accepted(NamedTuple):
    """What the group commit writes for one request: its delivery job, then its usage tally."""

    job: JobSpec
    tally: Tally


class Executions:
    """Accepts unitary and high-throughput executions durably and cheaply; one per process."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        limiter: Limiter,
        usage: UsageMeter,
        *,
        idempotency_seconds: float,
        snapshot_ttl: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._limiter = limiter
        self._usage = usage
        self._clock = clock
        self._idempotency_seconds = idempotency_seconds
        self._snapshot_ttl = snapshot_ttl
        self._snapshots: RefreshingCache[tuple[str, str, str], CampaignSnapshot | None] = RefreshingCache()
        self._committer: GroupCommitter[_Accepted, str] = GroupCommitter(self._write, max_delay=0)

    async def trigger(
        self,
        principal: Principal,
        read_body: Callable[[], Awaitable[bytes]],
        mode: Mode,
        idempotency_key: str | None,
    ) -> ExecutionResponse:
        """Accept one request, durably: the cap, the body and campaign rules, the monthly quota, profiles
        (standard mode), the delivery job and its usage tally. The body is read after the cap check, so a
        caller over its cap costs little."""
        await self._check_rate(principal, mode)
        body = await read_body()
        parsed = decode(body)
        check_request(parsed, mode, body_size=len(body))
        now = self._clock()
        ids = {"requestId": parsed.requestId, "campaignId": parsed.campaignId}
        snapshot = check_campaign(await self.snapshot(principal, parsed.campaignId), ids, mode, now)
        # Before profiles are read or created: a request over the quota leaves nothing behind.
        tally = self._usage.admit(principal, mode.name, len(parsed.recipients), now)
        if not isinstance(tally, Tally):
            tally = await tally
        execution = execution_id(principal, idempotency_key)
        try:
            resolved = None if mode.high_throughput else await self._profiles(principal, parsed, snapshot)
        except BaseException:
            self._usage.release([tally])  # refused after all (a missing profile): not a message
            raise
        accepted_at = iso_milli(now)
        job = delivery_job(
            principal,
            parsed,
            snapshot,
            execution=execution,
            accepted_at=accepted_at,
            profiles=resolved,
            dedupe_seconds=self._idempotency_seconds if idempotency_key else 0.0,
        )
        # Returns once the job is durable (it shares one queue write with its neighbours in time).
        await self._committer.submit(_Accepted(job, tally))
        return ExecutionResponse(
            executionId=execution,
            requestId=parsed.requestId,
            createdAt=accepted_at,
            createdBy=principal.technical_account,
            modifiedAt=accepted_at,
            modifiedBy=principal.technical_account,
        )

    async def snapshot(self, principal: Principal, campaign_id: str) -> CampaignSnapshot | None:
        """The campaign as of at most ``snapshot_ttl`` seconds ago (None: it does not exist)."""
        key = (principal.org_id, principal.sandbox_id, campaign_id)

        async def load() -> tuple[CampaignSnapshot | None, float]:
            async with self._unit_of_work() as uow:
                return await campaigns.snapshot(uow, principal, campaign_id), self._snapshot_ttl

        return await self._snapshots.get(key, load)

    async def _check_rate(self, principal: Principal, mode: Mode) -> None:
        """429 when the organization is over its requests-per-second cap for the mode."""
        rate = (
            principal.high_throughput_rate_per_second
            if mode.high_throughput
            else principal.standard_rate_per_second
        )
        limit = RateLimit(rate=rate, burst=default_burst(rate))
        decision = await self._limiter.check(f"cap:{principal.org_id}:{mode.name}", limit)
        if not decision.allowed:
            raise errors.over_rate(rate, mode.name, decision.wait)

    async def _profiles(
        self, principal: Principal, request: ExecutionRequest, snapshot: CampaignSnapshot
    ) -> dict[str, dict[str, Any]]:
        async with self._unit_of_work() as uow:
            return await resolve_profiles(uow, principal, request, snapshot)

    async def _write(self, accepted: Sequence[_Accepted]) -> list[str]:
        tallies = [item.tally for item in accepted]
        try:
            ids, stored = await self._queue.enqueue_new([item.job for item in accepted])
        except BaseException:
            self._usage.release(tallies)
            raise
        # Only new durable jobs are counted (a replayed x-request-id sends nothing, so it is no message); the
        # counters are written a moment later, for many batches at once.
        self._usage.record([tally for tally, new in zip(tallies, stored, strict=True) if new])
        self._usage.release([tally for tally, new in zip(tallies, stored, strict=True) if not new])
        return ids

    async def drain(self) -> None:
        """Wait for pending writes, then write the usage they counted (shutdown)."""
        await self._committer.drain()
        await self._usage.drain()

    def forget(self) -> None:
        """Drop cached snapshots (tests; a campaign just changed)."""
        self._snapshots.forget()


def decode(body: bytes) -> ExecutionRequest:
    """Decode a unitary/HT body; a malformed one is a 400 naming the JSON path and the expected type."""
    try:
        return execution_request_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise errors.invalid(errors.BODY, f"Invalid request body: {error}") from None


def check_request(
    request: ExecutionRequest, mode: Mode, *, body_size: int, max_recipients: int = MAX_RECIPIENTS
) -> None:
    """Recipients (1 to 20, unique ``userId``, type per endpoint) and their contexts."""
    ids = {"requestId": request.requestId, "campaignId": request.campaignId}
    count = len(request.recipients)
    if not 1 <= count <= max_recipients:
        raise errors.invalid(
            errors.RECIPIENT_COUNT,
            f"recipients: between 1 and {max_recipients} are allowed (got {count})",
            **ids,
        )
    seen: set[str] = set()
    for index, recipient in enumerate(request.recipients):
        if recipient.userId in seen:
            raise errors.invalid(
                errors.DUPLICATE_USER,
                f"recipients[{index}].userId: {recipient.userId!r} appears twice; user ids must be unique",
                **ids,
            )
        seen.add(recipient.userId)
        if mode.high_throughput and not isinstance(recipient, ExternalRecipient):
            raise errors.invalid(
                errors.RECIPIENT_TYPE,
                f"recipients[{index}].type: the high-throughput endpoint accepts only type 'external'",
                **ids,
            )
        if recipient.context:
            _check_context(recipient.context, index, ids, measure=body_size > MAX_CONTEXT_BYTES)


def _check_context(context: dict[str, Any], index: int, ids: dict[str, str], *, measure: bool) -> None:
    where = f"recipients[{index}].context"
    if "system" in context:
        raise errors.invalid(errors.CONTEXT_RESERVED, f"{where}.system: reserved for the platform", **ids)
    for key, value in context.items():
        if not isinstance(value, str | dict):
            raise errors.invalid(
                errors.CONTEXT_TYPE,
                f"{where}.{key}: must be a string or an object (contextual data is string-typed), "
                f"got {type(value).__name__}",
                **ids,
            )
    # Only a body larger than the limit can hold a context larger than the limit: skip the encode otherwise.
    if measure and len(msgspec.json.encode(context)) > MAX_CONTEXT_BYTES:
        raise errors.invalid(errors.CONTEXT_SIZE, f"{where}: larger than 200 KB", **ids)


def check_campaign(
    snapshot: CampaignSnapshot | None, request_ids: dict[str, str], mode: Mode, now: datetime
) -> CampaignSnapshot:
    """The campaign exists, is Live, is inside its dates, and its mode matches the endpoint."""
    if snapshot is None:
        raise errors.invalid(
            errors.CAMPAIGN_UNKNOWN, "campaignId: no such campaign in this sandbox", **request_ids
        )
    if snapshot.start_date is not None and now < snapshot.start_date:
        raise errors.invalid(
            errors.CAMPAIGN_OUTSIDE_DATES,
            f"campaign starts at {iso_milli(snapshot.start_date)}; it cannot be executed before",
            **request_ids,
        )
    if snapshot.end_date is not None and now >= snapshot.end_date:
        raise errors.invalid(
            errors.CAMPAIGN_OUTSIDE_DATES,
            f"campaign ended at {iso_milli(snapshot.end_date)}; it cannot be executed after",
            **request_ids,
        )
    status = snapshot.status_at(now)
    if status != "Live":
        raise errors.invalid(
            errors.CAMPAIGN_NOT_LIVE, f"campaign is {status}; only Live campaigns run", **request_ids
        )
    if snapshot.high_throughput != mode.high_throughput:
        endpoint = "/highthroughput" if snapshot.high_throughput else "/unitary"
        raise errors.invalid(
            errors.CAMPAIGN_MODE,
            f"campaign is a {'high-throughput' if snapshot.high_throughput else 'standard'} campaign: "
            f"trigger it with {endpoint}",
            **request_ids,
        )
    return snapshot


def execution_id(principal: Principal, idempotency_key: str | None) -> str:
    """A fresh id, or — for an ``x-request-id`` — the same id on every replay (so replays echo it)."""
    if idempotency_key is None:
        return new_reference()
    return str(
        uuid.uuid5(_EXECUTION_NAMESPACE, f"{principal.org_id}/{principal.sandbox_id}/{idempotency_key}")
    )


def delivery_job(
    principal: Principal,
    request: ExecutionRequest,
    snapshot: CampaignSnapshot,
    *,
    execution: str,
    accepted_at: str,
    profiles: dict[str, dict[str, Any]] | None,
    dedupe_seconds: float,
    shared_context: dict[str, Any] | None = None,
    first_index: int = 0,
    job_id: str | None = None,
) -> JobSpec:
    """The queue job that delivers one accepted request (its recipients travel with it: no DB row needed).

    Audience executions split their recipients over several jobs: ``first_index`` keeps the message ids of
    the execution unique, and ``shared_context`` is the request-level context each recipient inherits.
    """
    recipients = []
    for index, recipient in enumerate(request.recipients, start=first_index):
        channel_data = recipient.channelData
        context = {**(shared_context or {}), **(recipient.context or {})}
        recipients.append(
            JobRecipient(
                index=index,
                userId=recipient.userId,
                namespace=recipient.namespace,
                channelData=None
                if channel_data is None
                else ChannelData(
                    channel_data.emailAddress, channel_data.mobilePhoneNumber, channel_data.pushInfo
                ),
                context=context or None,
                # Standard mode: the stored profile, overridden by the request's own ``profile`` object.
                profile=None
                if profiles is None
                else _merge(profiles.get(recipient.userId, {}), recipient.profile or {}),
            )
        )
    payload = DeliveryJob(
        org=principal.org_id,
        sandbox=principal.sandbox_id,
        campaign=snapshot.id,
        version=snapshot.version,
        channel=snapshot.channel,
        execution=execution,
        requestId=request.requestId,
        acceptedAt=accepted_at,
        recipients=recipients,
    )
    return JobSpec(
        delivery.SEND_TASK,
        payload,
        queue=delivery.QUEUE,
        job_id=job_id or execution,
        unique_for=dedupe_seconds,
    )


def _merge(stored: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: the request's values win, nested objects merge key by key."""
    merged = dict(stored)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def aep_user_ids(request: ExecutionRequest) -> dict[str, list[str]]:
    """User ids of ``aep`` recipients grouped by namespace (standard mode resolves them)."""
    grouped: dict[str, list[str]] = {}
    for recipient in request.recipients:
        if isinstance(recipient, AepRecipient):
            grouped.setdefault(recipient.namespace, []).append(recipient.userId)
    return grouped


async def resolve_profiles(
    uow: UnitOfWork, principal: Principal, request: ExecutionRequest, snapshot: CampaignSnapshot
) -> dict[str, dict[str, Any]]:
    """Stored profiles of the ``aep`` recipients (created when the campaign allows it), by user id."""
    found: dict[str, dict[str, Any]] = {}
    for namespace, user_ids in aep_user_ids(request).items():
        attributes, missing = await profiles.resolve(
            uow, principal, namespace, user_ids, create_missing=snapshot.create_new_profile
        )
        if missing:
            raise errors.invalid(
                errors.PROFILE_MISSING,
                f"recipients: no profile for {namespace} {', '.join(missing)} and the campaign does not "
                "create new profiles",
                requestId=request.requestId,
                campaignId=request.campaignId,
            )
        found.update(attributes)
    return found
