"""Delivering an accepted execution: render, send, record in the ledger, retry what failed for a while.

One job per accepted request carries its recipients (a ``schemas.DeliveryJob``). For each recipient the
campaign's channel adapter (``channels``: email, SMS, push) finds the address, renders the compiled templates
and sends; the worker records the outcome in the ledger through a group committer (many jobs' rows in one
transaction). Temporary failures go to a follow-up job for just those recipients, with exponential backoff,
until ``max_attempts`` or the validity window ends. A redelivered job skips recipients whose ledger row is
already final, so a crash repeats nothing that was recorded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import structlog

from clarion.db.uow import UnitOfWork
from clarion.delivery import repository
from clarion.delivery.bundle import Bundle, BundleCache
from clarion.delivery.channels.base import Attempt, SendResult, clip
from clarion.delivery.channels.email.channel import email_address
from clarion.delivery.channels.webhook import post_event
from clarion.delivery.counters import count_event
from clarion.delivery.schemas import (
    Bucket,
    DeliveryEvent,
    DeliveryJob,
    EventRow,
    LedgerRow,
    MessageDetail,
    MessageEventRead,
    MessageHistory,
    MessageRead,
    MessageStats,
    MessageStatus,
    Recipient,
    StatsBucket,
    StoredMessage,
    WebhookRetry,
)
from clarion.delivery.webhooks import QUEUE as QUEUE
from clarion.delivery.webhooks import WEBHOOK_TASK as WEBHOOK_TASK
from clarion.errors import Invalid, NotFound
from clarion.kit.batcher import GroupCommitter
from clarion.kit.clock import iso_milli, utcnow
from clarion.kit.repository import require
from clarion.models.messages import Message
from clarion.outbound.schemas import NewCall
from clarion.outbound.service import ActionCalls, calls_for
from clarion.queue.port import Job, JobQueue, JobSpec, backoff_seconds
from clarion.suppressions import service as suppressions
from clarion.suppressions.addresses import normalize
from clarion.suppressions.bounces import Bounce
from clarion.suppressions.cache import SuppressionCache
from clarion.suppressions.schemas import Hit

log = structlog.get_logger()

SEND_TASK = "delivery.send"
MAX_ATTEMPTS = 8
_CALL_NAMESPACE = uuid.UUID("6f1c2a0e-3b7d-5c41-9a8e-2d4b6c8e0f13")
"""Namespace of the uuid5 ids of campaign custom-action calls (derived from message ids)."""
_STATUS_OF: dict[str, MessageStatus] = {"sent": "sent", "failed": "failed"}
"""Ledger status of a send outcome; ``retry`` leaves the message ``accepted``."""
Recorded = tuple[LedgerRow, EventRow | None, Bounce | None]
"""What the ledger writer commits per attempt: the message's row, unless the row tells it all the attempt's
event, and the relay's refusal of the recipient when there was one (the suppression policy applies it in
the same transaction)."""
_GONE = Attempt(SendResult("failed", "campaign or its channel configuration no longer exists"), "", 0)


class Delivery:
    """The delivery runtime of a worker process."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        bundles: BundleCache,
        http: httpx.AsyncClient,
        *,
        validity_seconds: float,
        backoff_base: float = 30.0,
        action_calls: ActionCalls | None = None,
        suppressions: SuppressionCache | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._suppressions = suppressions
        """The lists each email recipient is checked against (no database read per message); None: none."""
        self._action_calls = action_calls
        self._queue = queue
        self._bundles = bundles
        self._http = http
        self._validity = validity_seconds
        self._backoff_base = backoff_base
        self._ledger: GroupCommitter[Recorded, None] = GroupCommitter(self._write_rows, max_delay=0.002)

    async def send(self, job: Job) -> None:
        """Handle one ``delivery.send`` job."""
        payload = msgspec.convert(job.payload, DeliveryJob)
        pending = await self._not_yet_final(job, payload)
        if not pending:
            return
        bundle = await self._bundles.get(payload.org, payload.sandbox, payload.campaign, payload.version)
        hits = await self._suppressed(payload, bundle, pending)
        with calls_for(payload.org):  # the organization's throttling configuration paces SMS and push
            attempts = await _each(
                _send_one(bundle, recipient, message_id(payload, recipient)) if hit is None else _ready(hit)
                for recipient, hit in zip(pending, hits, strict=True)
            )
        now = utcnow()
        accepted_at = datetime.fromisoformat(payload.acceptedAt.replace("Z", "+00:00"))
        rows = [
            self._row(payload, recipient, attempt, accepted_at, now)
            for recipient, attempt in zip(pending, attempts, strict=True)
        ]
        if bundle is not None and bundle.settings.custom_action_id:
            await self._call_action(payload, bundle.settings.custom_action_id, pending, rows)
        await self._ledger.submit_all(
            [
                (row, history_event(row, attempt), attempt.result.bounce)
                for row, attempt in zip(rows, attempts, strict=True)
            ]
        )
        await self._follow_up(payload, pending, rows)
        if bundle is not None and bundle.settings.enable_webhooks and bundle.settings.webhook_url:
            subscribed = [row for row in rows if bundle.settings.subscribes(event_type(row))]
            if subscribed:
                with calls_for(payload.org):
                    await self._webhooks(bundle.settings.webhook_url, subscribed)

    async def _suppressed(
        self, payload: DeliveryJob, bundle: Bundle | None, pending: list[Recipient]
    ) -> list[Attempt | None]:
        """Per recipient, ``None`` to send, or the attempt that records it suppressed.

        The address is the one the email channel would use; the sandbox's list is the cache's copy (no
        database read per message). Email only: SMS and push have no suppression list yet.
        """
        if self._suppressions is None or bundle is None or bundle.settings.channel != "email":
            return [None] * len(pending)
        listed = await self._suppressions.view(payload.org, payload.sandbox)
        category = bundle.settings.category
        found: list[Attempt | None] = []
        for recipient in pending:
            address = email_address(recipient)
            hit = listed.check(address, category) if address else None
            found.append(None if hit is None else _suppressed_attempt(address, hit))
        return found

    async def _call_action(
        self,
        payload: DeliveryJob,
        action_id: str,
        pending: list[Recipient],
        rows: list[LedgerRow],
    ) -> None:
        """Queue one call of the campaign's custom action per message just sent (before its ledger row).

        Before: once the row is final, a redelivered job skips the recipient, so a crash between the two
        writes would lose the call; this way round it can only queue it again, and call ids derived from
        message ids with jobs unique while a call may wait make that second enqueue a no-op.
        """
        sent = [
            (recipient, row) for recipient, row in zip(pending, rows, strict=True) if row["status"] == "sent"
        ]
        if not sent or self._action_calls is None:
            return
        calls = [
            NewCall(action_call_id(row["id"]), action_context(recipient, row)) for recipient, row in sent
        ]
        queued = await self._action_calls.queue(
            payload.org, payload.sandbox, action_id, calls, request_id=payload.requestId or None
        )
        if not queued:
            log.warning("delivery.custom_action_missing", campaign=payload.campaign, action=action_id)

    async def _not_yet_final(self, job: Job, payload: DeliveryJob) -> list[Recipient]:
        """Recipients whose message is not final yet. A first delivery of a first attempt cannot have a
        ledger row (ids are fresh), so only redeliveries and retries pay for the lookup."""
        recipients = payload.recipients
        if job.attempts == 1 and all(recipient.attempt == 1 for recipient in recipients):
            return recipients
        ids = [message_id(payload, recipient) for recipient in recipients]
        async with self._unit_of_work() as uow:
            done = await repository.final_ids(uow.session, ids)
        return [recipient for recipient, mid in zip(recipients, ids, strict=True) if mid not in done]

    def _row(
        self,
        payload: DeliveryJob,
        recipient: Recipient,
        outcome: Attempt,
        accepted_at: datetime,
        now: datetime,
    ) -> LedgerRow:
        attempt = recipient.attempt
        result = outcome.result
        status = _status_of(outcome)
        response = result.response
        if status == "accepted":
            if attempt >= MAX_ATTEMPTS:
                status, response = "failed", f"gave up after {attempt} attempts; last answer: {response}"
            elif (now - accepted_at).total_seconds() >= self._validity:
                status, response = (
                    "expired",
                    f"not delivered within the validity window; last answer: {response}",
                )
        sent = status == "sent"
        return {
            "id": message_id(payload, recipient),
            "org_id": payload.org,
            "sandbox_id": payload.sandbox,
            "campaign_id": payload.campaign,
            "execution_id": payload.execution,
            "request_id": payload.requestId,
            "user_id": recipient.userId,
            "recipient": outcome.address,
            "channel": payload.channel,
            "status": status,
            "attempts": attempt,
            "response": response,
            "rendered_size": outcome.size,
            "header_message_id": outcome.header_message_id,
            "accepted_at": accepted_at,
            "updated_at": now,
            "sent_at": now if sent else None,
            # Kept while not sent, for ``/v1/messages/resend``.
            "payload": None if sent else msgspec.to_builtins(payload.stored(recipient)),
        }

    async def _follow_up(self, payload: DeliveryJob, pending: list[Recipient], rows: list[LedgerRow]) -> None:
        again = [
            msgspec.structs.replace(recipient, attempt=recipient.attempt + 1)
            for recipient, row in zip(pending, rows, strict=True)
            if row["status"] == "accepted"
        ]
        if not again:
            return
        attempt = again[0].attempt
        delay = backoff_seconds(attempt - 1, base=self._backoff_base, cap=3600.0)
        job_id = f"{payload.execution}:retry:{attempt}:{again[0].index}"
        spec = JobSpec(
            SEND_TASK,
            msgspec.structs.replace(payload, recipients=again),
            queue=QUEUE,
            delay=delay,
            job_id=job_id,
            unique_for=self._validity,
        )
        await self._queue.enqueue([spec])

    async def _webhooks(self, url: str, rows: list[LedgerRow]) -> None:
        for row in rows:
            event = delivery_event(row)
            result = await post_event(self._http, url, event)
            if result.outcome == "retry":
                retry = WebhookRetry(url=url, event=msgspec.to_builtins(event), org=row["org_id"])
                await self._queue.enqueue([JobSpec(WEBHOOK_TASK, retry, queue=QUEUE, delay=30)])
            elif result.outcome == "failed":
                log.warning("delivery.webhook_refused", url=url, response=result.response)

    async def webhook(self, job: Job) -> None:
        """Handle a ``delivery.webhook`` retry: raising lets the queue back off and try again."""
        retry = msgspec.convert(job.payload, WebhookRetry)
        with calls_for(retry.org):  # retries queued before the org was recorded: unpaced
            result = await post_event(self._http, retry.url, retry.event)
        if result.outcome == "retry":
            raise RuntimeError(f"webhook not delivered: {result.response}")
        if result.outcome == "failed":
            log.warning("delivery.webhook_refused", url=retry.url, response=result.response)

    async def _write_rows(self, recorded: Sequence[Recorded]) -> list[None]:
        async with self._unit_of_work() as uow:
            await _explain_suppressed(uow, recorded)
            await repository.upsert_messages(uow.session, [row for row, _, _ in recorded])
            await repository.add_events(uow.session, [event for _, event, _ in recorded if event is not None])
            await _apply_bounces(uow, recorded)
            await uow.commit()
        # Counted once durable (a failed write is retried by the job, not counted); one increment per kind
        # and channel of the batch, not per message.
        tally = Counter((event_type(row).removeprefix("message."), row["channel"]) for row, _, _ in recorded)
        for (kind, channel), amount in tally.items():
            count_event(kind, channel, amount)
        return [None] * len(recorded)

    async def close(self) -> None:
        """Write what is pending and close connections."""
        await self._ledger.drain()
        await self._bundles.close()


def _status_of(attempt: Attempt) -> MessageStatus:
    """The ledger status of an attempt's outcome: a hard bounce is ``bounced``, not ``failed``."""
    if attempt.suppressed is not None:
        return "suppressed"
    result = attempt.result
    if result.outcome == "failed" and result.bounce is not None and result.bounce.type == "hard":
        return "bounced"
    return _STATUS_OF.get(result.outcome, "accepted")


async def _ready(attempt: Attempt) -> Attempt:
    """An attempt decided without the channel, where the sends are awaited."""
    return attempt


def _suppressed_attempt(address: str, hit: Hit) -> Attempt:
    """The attempt of a recipient on the list: nothing sent; the ledger writer adds the entry's evidence."""
    scope = f" from {hit.category}" if hit.category else ""
    return Attempt(SendResult("failed", f"suppressed: {hit.reason}{scope}"), address, 0, suppressed=hit)


async def _explain_suppressed(uow: UnitOfWork, recorded: Sequence[Recorded]) -> None:
    """Complete the answer of each suppressed message with its entry's evidence and date, reading the
    entries of a whole group commit at once (one query per sandbox in it, none when nothing was
    suppressed): ``suppressed: hardBounce (550 5.1.1 user unknown, on 2026-12-07)``."""
    wanted: dict[tuple[str, str], list[tuple[LedgerRow, EventRow]]] = {}
    for row, event, _ in recorded:
        if row["status"] == "suppressed" and event is not None:
            wanted.setdefault((row["org_id"], row["sandbox_id"]), []).append((row, event))
    for (org_id, sandbox_id), items in wanted.items():
        entries = await suppressions.evidence(
            uow.session, org_id, sandbox_id, [row["recipient"] for row, _ in items]
        )
        for row, event in items:
            data = event["data"] or {}
            entry = entries.get((normalize(row["recipient"]), data["reason"], data["category"]))
            if entry is not None:
                row["response"] = event["response"] = clip(f"{row['response']} ({entry})")


async def _apply_bounces(uow: UnitOfWork, recorded: Sequence[Recorded]) -> None:
    """The suppression policy for every refused recipient of the batch, in the ledger's transaction:
    hard → ``hardBounce`` now, soft → counted toward ``softBounce``, policy → nothing. Sandboxes in
    ``(org, sandbox)`` order: concurrent writers take the lists' revision locks in one order."""
    bounces = sorted(
        ((row, bounce) for row, _, bounce in recorded if bounce is not None and bounce.type != "policy"),
        key=lambda item: (item[0]["org_id"], item[0]["sandbox_id"]),
    )
    for row, bounce in bounces:
        await suppressions.note_bounce(
            uow.session,
            row["org_id"],
            row["sandbox_id"],
            row["recipient"],
            bounce,
            message_id=row["id"],
            at=row["updated_at"],
            detail=row["response"],
        )


async def _send_one(bundle: Bundle | None, recipient: Recipient, message: str) -> Attempt:
    if bundle is None:
        return _GONE
    try:
        return await bundle.channel.send(recipient, message)
    except ValueError as error:  # an address or header that cannot be sent (e.g. injection attempt)
        return Attempt(SendResult("failed", f"invalid message: {error}"), "", 0)


async def _each(sends: Iterable[Coroutine[Any, Any, Attempt]]) -> list[Attempt]:
    """Run the sends concurrently; one send (most jobs: HT requests name one recipient) without a task."""
    pending = list(sends)
    if len(pending) == 1:
        return [await pending[0]]
    return await asyncio.gather(*pending)


def message_id(payload: DeliveryJob, recipient: Recipient) -> str:
    """The ledger id of a recipient's message: stable across redeliveries and retries."""
    return f"{payload.execution}:{recipient.index}"


def action_call_id(message: str) -> str:
    """The id of the custom-action call of a sent message: the same on every redelivery of its job."""
    return str(uuid.uuid5(_CALL_NAMESPACE, message))


def action_context(recipient: Recipient, row: LedgerRow) -> dict[str, Any]:
    """The context of a campaign's custom-action call: the recipient's ``context`` plus ``message``.

    ``message`` is ``{id, executionId, campaignId, recipient}`` (``recipient``: the address the message
    went to); it replaces a ``message`` key of the recipient's context.
    """
    message = {
        "id": row["id"],
        "executionId": row["execution_id"],
        "campaignId": row["campaign_id"],
        "recipient": row["recipient"],
    }
    return {**(recipient.context or {}), "message": message}


def history_event(row: LedgerRow, attempt: Attempt) -> EventRow | None:
    """The event to store for an attempt; None for a message sent at its first attempt, the common case:
    its row already says it all (status, answer, Message-ID, time) and ``history`` reads it from there. An
    insert per delivered message measured about +14 % worker CPU per message (``bench.delivery``)."""
    if row["status"] == "sent" and row["attempts"] == 1:
        return None
    return attempt_event(row, attempt)


def attempt_event(row: LedgerRow, attempt: Attempt) -> EventRow:
    """The history event of one recorded attempt (``retry`` while the message stays ``accepted``), with
    the relay's refusal classified (``{type, status, diagnostic, source: "smtp"}``) or the suppression
    that stopped it (``{reason, category}``)."""
    status = row["status"]
    return {
        "message_id": row["id"],
        "org_id": row["org_id"],
        "sandbox_id": row["sandbox_id"],
        "campaign_id": row["campaign_id"],
        "kind": "retry" if status == "accepted" else status,
        "attempt": row["attempts"],
        "response": row["response"],
        "header_message_id": attempt.header_message_id,
        "data": attempt_data(attempt),
        "at": row["updated_at"],
    }


def event_type(row: LedgerRow) -> str:
    """The webhook event type of an attempt's outcome: ``message.<final status>``, or ``message.deferred``
    while the message waits for its next attempt."""
    return "message.deferred" if row["status"] == "accepted" else f"message.{row['status']}"


def attempt_data(attempt: Attempt) -> dict[str, Any] | None:
    """What an attempt's event carries beyond the answer: its bounce or its suppression; None otherwise."""
    result = attempt.result
    if result.bounce is not None:
        bounce = result.bounce
        return {"type": bounce.type, "status": bounce.status, "diagnostic": result.response, "source": "smtp"}
    if attempt.suppressed is not None:
        return {"reason": attempt.suppressed.reason, "category": attempt.suppressed.category}
    return None


def delivery_event(row: LedgerRow) -> DeliveryEvent:
    """The event POSTed to a campaign's webhook for an attempt's outcome."""
    return DeliveryEvent(
        eventType=event_type(row),
        messageId=row["id"],
        executionId=row["execution_id"],
        campaignId=row["campaign_id"],
        requestId=row["request_id"],
        userId=row["user_id"],
        recipient=row["recipient"],
        status=row["status"],
        attempts=row["attempts"],
        response=row["response"],
        timestamp=iso_milli(row["updated_at"]),
    )


async def resend(
    uow: UnitOfWork, principal_org: str, principal_sandbox: str, filters: dict[str, str | None], *, limit: int
) -> list[str]:
    """Queue failed/expired messages matching ``filters`` again, each as a fresh attempt series."""
    repo = repository.MessageRepository(uow.session, principal_org, principal_sandbox)
    messages = await repo.failed(filters, limit=limit)
    accepted_at = iso_milli(utcnow())
    jobs = [
        JobSpec(SEND_TASK, msgspec.convert(message.payload, StoredMessage).resend(accepted_at), queue=QUEUE)
        for message in messages
    ]
    ids = [message.id for message in messages]
    now = utcnow()
    await repo.mark_requeued(ids, now)
    await repository.add_events(uow.session, [resent_event(message, now) for message in messages])
    uow.defer(jobs)
    await uow.commit()
    for message in messages:
        count_event("resent", message.channel)
    return ids


def resent_event(message: Message, at: datetime) -> EventRow:
    """The history event of a message queued again by ``resend`` (its attempts count from 1 again)."""
    return {
        "message_id": message.id,
        "org_id": message.org_id,
        "sandbox_id": message.sandbox_id,
        "campaign_id": message.campaign_id,
        "kind": "resent",
        "attempt": message.attempts,
        "response": "queued again by resend",
        "header_message_id": "",
        "data": None,
        "at": at,
    }


async def history(uow: UnitOfWork, org_id: str, sandbox_id: str, message_id: str) -> MessageHistory:
    """A message's events, oldest first: its acceptance, then what the ledger recorded of each attempt."""
    repo = repository.MessageRepository(uow.session, org_id, sandbox_id)
    message = require(await repo.get(message_id), NotFound(f"Message {message_id!r} does not exist"))
    return MessageHistory(message_id=message_id, items=await _events(repo, message))


async def list_messages(
    uow: UnitOfWork,
    org_id: str,
    sandbox_id: str,
    filters: dict[str, str | None],
    window: tuple[datetime | None, datetime | None] = (None, None),
    *,
    limit: int,
    offset: int,
) -> tuple[list[MessageRead], int]:
    """One page of the ledger, newest first, and the total matching: ``filters`` by ``executionId``,
    ``campaignId``, ``status``, ``recipient`` and ``event`` (a kind the message's history has)."""
    repo = repository.MessageRepository(uow.session, org_id, sandbox_id)
    rows, total = await repo.search(filters, window, limit=limit, offset=offset)
    return [MessageRead.model_validate(row) for row in rows], total


async def message_detail(uow: UnitOfWork, org_id: str, sandbox_id: str, message_id: str) -> MessageDetail:
    """One ledger row with its history."""
    repo = repository.MessageRepository(uow.session, org_id, sandbox_id)
    message = require(await repo.get(message_id), NotFound(f"Message {message_id!r} does not exist"))
    read = MessageRead.model_validate(message)
    return MessageDetail(**read.model_dump(), events=await _events(repo, message))


async def _events(repo: repository.MessageRepository, message: Message) -> list[MessageEventRead]:
    accepted = MessageEventRead(kind="accepted", attempt=0, response="", at=message.accepted_at)
    events = [MessageEventRead.model_validate(event) for event in await repo.events(message.id)]
    resent = max((i for i, event in enumerate(events) if event.kind == "resent"), default=-1)
    stored = any(event.kind == "sent" for event in events[resent + 1 :])
    if message.sent_at is not None and message.status in ("sent", "bounced") and not stored:
        # Sent at the first attempt (of the message, or since its resend): no event stored, the row says it.
        at = message.sent_at
        sent = MessageEventRead(kind="sent", attempt=message.attempts, response=message.response, at=at)
        # Before the feedback that came after it (a bounce report, an open): in time order.
        position = next((i for i, event in enumerate(events) if event.at > at), len(events))
        events.insert(position, sent)
    return [accepted, *events]


def accepted_window(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The ledger's ``since``/``until`` filters, checked: zoned, and ``until`` after ``since``."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise Invalid(f"{name}: needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if since is not None and until is not None and until <= since:
        raise Invalid("until: must be after since")
    return since, until


BUCKET_SECONDS: dict[Bucket, int] = {"minute": 60, "hour": 3600}
MAX_WINDOW: dict[Bucket, timedelta] = {"minute": timedelta(hours=24), "hour": timedelta(days=31)}
"""How far back ``stats`` looks per bucket size: at most 1,440 minutes or 744 hours a chart."""
DEFAULT_WINDOW: dict[Bucket, timedelta] = {"minute": timedelta(hours=1), "hour": timedelta(hours=24)}


async def stats(
    uow: UnitOfWork, org_id: str, sandbox_id: str, *, since: datetime | None, bucket: Bucket
) -> MessageStats:
    """Counts by status per time bucket from ``since`` (default: the last hour, or day for hours) to now."""
    now = utcnow()
    if since is None:
        since = now - DEFAULT_WINDOW[bucket]
    elif since.tzinfo is None:
        raise Invalid("since: needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    elif since < now - MAX_WINDOW[bucket] or since > now:
        raise Invalid(
            f"since: must be in the last {_window_text(bucket)} for {bucket} buckets, not later than now"
        )
    seconds = BUCKET_SECONDS[bucket]
    first, last = int(since.timestamp()) // seconds, int(now.timestamp()) // seconds
    buckets = {
        number: StatsBucket(start=datetime.fromtimestamp(number * seconds, UTC))
        for number in range(first, last + 1)
    }
    totals = StatsBucket(start=since)
    repo = repository.MessageRepository(uow.session, org_id, sandbox_id)
    for number, status, count in await repo.counts_by_bucket(since, seconds):
        if status in _COUNTED and number in buckets:
            setattr(buckets[number], status, getattr(buckets[number], status) + count)
            setattr(totals, status, getattr(totals, status) + count)
    final = totals.sent + totals.failed + totals.expired
    return MessageStats(
        since=since,
        bucket=bucket,
        bucket_seconds=seconds,
        buckets=list(buckets.values()),
        totals=totals,
        failure_rate=(totals.failed + totals.expired) / final if final else 0.0,
    )


_COUNTED = frozenset(("accepted", "sent", "failed", "expired"))


def _window_text(bucket: Bucket) -> str:
    return "24 hours" if bucket == "minute" else "31 days"


async def execution_summary(
    uow: UnitOfWork, org_id: str, sandbox_id: str, execution_id: str
) -> dict[str, int]:
    """Message counts by status for one execution."""
    return await repository.status_counts(uow.session, org_id, sandbox_id, execution_id)
