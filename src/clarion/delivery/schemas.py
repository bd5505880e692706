"""Wire shapes of the delivery ledger API (/v1/messages) and the outbox (/v1/outbox); the delivery job.

The job is delivery's contract with the domains that queue it (executions; delivery itself for retries and
resends): msgspec Structs whose field names are today's JSON keys, so queued jobs and stored payloads keep
decoding across upgrades.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from clarion.campaigns.schemas import CampaignContent


class MessageRead(BaseModel):
    """One ledger row: what was sent to whom, how often, and the server's last answer."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: str
    execution_id: str
    campaign_id: str
    request_id: str
    user_id: str
    recipient: str
    channel: str
    status: str
    attempts: int
    response: str
    rendered_size: int
    header_message_id: str = Field(description="The Message-ID header of the last attempt (email)")
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class ResendRequest(BaseModel):
    """Which failed or expired messages to send again (at least one filter; ``messageId``: just that one)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    message_id: str | None = Field(default=None, max_length=80)
    execution_id: str | None = None
    campaign_id: str | None = None
    recipient: str | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


class ResendResult(BaseModel):
    """How many messages were queued again."""

    requeued: int
    message_ids: list[str] = Field(serialization_alias="messageIds")


class CapturedMailRead(BaseModel):
    """A message captured by the bundled SMTP server."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: str
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    size: int


MessageStatus = Literal["accepted", "sent", "failed", "expired", "suppressed", "bounced"]
"""A message's state: ``accepted`` (waiting or retrying), then final: ``sent`` (the relay took it),
``failed``, ``expired``, ``suppressed`` (never sent: the address is on the suppression list) or ``bounced``
(refused for good, at once by the relay or later by a bounce report)."""
Bucket = Literal["minute", "hour"]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


MessageEventKind = Literal[
    "accepted",
    "sent",
    "deferred",
    "failed",
    "expired",
    "resent",
    "suppressed",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
]
"""The wire names of a message's events (``GET /v1/messages/{id}/events``, ``?event=``, webhooks
``message.<kind>``). ``deferred`` is a temporary failure tried again later: stored as ``retry`` (the name
rows were written with before it was exposed; ``wire_kind``/``stored_kinds`` translate)."""

MESSAGE_EVENT_KINDS: tuple[MessageEventKind, ...] = MessageEventKind.__args__  # type: ignore[attr-defined]
_STORED_AS = {"deferred": "retry"}


def wire_kind(stored: str) -> str:
    """The wire name of a stored event kind (``retry`` → ``deferred``, the others as stored)."""
    return "deferred" if stored == "retry" else stored


def stored_kind(kind: str) -> str:
    """The ``message_events.kind`` a wire event kind is stored as."""
    return _STORED_AS.get(kind, kind)


class MessageEventRead(_Camel):
    """One step of a message's history: ``accepted`` (from the ledger row), then each attempt's outcome
    (``sent``, ``deferred``: a temporary failure, tried again later, ``failed``, ``expired``, ``suppressed``,
    ``bounced``) with the server's answer, each ``resent``, and the feedback that came back later
    (``bounced``, ``complained``, ``unsubscribed``, ``opened``, ``clicked``) with its ``data``.

    ``data`` by kind — bounced: ``type`` (hard, soft, policy), ``status`` (RFC 3463, e.g. 5.1.1),
    ``diagnostic``, ``source`` (smtp, dsn); complained: ``feedbackType``, ``userAgent``; opened: ``machine``
    (a known prefetcher, kept apart in the statistics), ``first``, ``userAgent``; clicked: ``url``,
    ``userAgent``; unsubscribed: ``method``, ``category``.
    """

    kind: MessageEventKind
    attempt: int
    response: str
    data: dict[str, Any] | None = None
    at: datetime

    @field_validator("kind", mode="before")
    @classmethod
    def _wire_name(cls, value: Any) -> Any:
        return wire_kind(value) if isinstance(value, str) else value


class MessageHistory(_Camel):
    """A message's events, oldest first (events of attempts before this history was kept are not listed)."""

    message_id: str
    items: list[MessageEventRead]


class MessageDetail(MessageRead):
    """One ledger row with its history (``events``: the items of ``GET /v1/messages/{id}/events``)."""

    events: list[MessageEventRead]


class MailHeader(BaseModel):
    """One header line of a mail, decoded."""

    name: str
    value: str


class MailRead(_Camel):
    """A mail as the recipient's client would show it: headers and the text and HTML bodies.

    ``source`` says where it comes from: ``outbox`` (the copy the bundled SMTP server captured, exactly as
    sent) or ``rendered`` (rendered again from what the ledger keeps of a message not sent, with the
    campaign's current content; ``campaignVersion`` is the version rendered).
    """

    source: Literal["outbox", "rendered"]
    subject: str
    headers: list[MailHeader]
    text: str | None
    html: str | None
    captured_mail_id: str | None = None
    campaign_version: int | None = None


class StatsBucket(_Camel):
    """Messages that reached their current status in one time bucket, by status."""

    start: datetime
    accepted: int = 0
    sent: int = 0
    failed: int = 0
    expired: int = 0


class MessageStats(_Camel):
    """The ledger over a time window in buckets (every bucket listed, empty ones with zeros), and totals.

    A message counts once, in the bucket of its last change: a sent message when it was sent, a failed or
    expired one when it became final, one still ``accepted`` (waiting or retrying) at its last attempt.
    ``failureRate`` is ``(failed + expired) / (sent + failed + expired)`` over the window (0 when none).
    """

    since: datetime
    bucket: Bucket
    bucket_seconds: int
    buckets: list[StatsBucket]
    totals: StatsBucket
    failure_rate: float


# --- The delivery job: produced by executions (and by delivery's retries and resends), run by the worker.
# Field names are the JSON keys of jobs already sitting in queues and of ``messages.payload``: never rename.


class ChannelData(msgspec.Struct):
    """A recipient's address overrides, as the request gave them (every key present, unset ones null)."""

    emailAddress: str | None = None
    mobilePhoneNumber: str | None = None
    pushInfo: dict[str, Any] | None = None
    """``{"token": …}`` and whatever else the caller sent (kept as is: resends carry it on)."""


class Recipient(msgspec.Struct, omit_defaults=True):
    """One recipient of a delivery job; optional keys are left out of the JSON when unset."""

    index: int
    """Position in the execution: the message id is ``<execution>:<index>``."""
    userId: str
    namespace: str
    channelData: ChannelData | None = None
    context: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    """Standard mode only: the stored profile merged with the request's."""
    attempt: int = 1
    """Which attempt this is (retries count up; absent on a first attempt)."""


class JobHeader(msgspec.Struct, kw_only=True):
    """What every message of a delivery job shares: whose campaign version, which execution, when accepted."""

    org: str
    sandbox: str
    campaign: str
    version: int
    channel: str = ""
    execution: str
    requestId: str = ""
    acceptedAt: str
    """ISO 8601 with milliseconds and ``Z``; the validity window counts from it."""

    def header(self) -> dict[str, Any]:
        """The shared fields, to build another job or stored message of the same request."""
        return {name: getattr(self, name) for name in JobHeader.__struct_fields__}


class DeliveryJob(JobHeader, kw_only=True):
    """The payload of a ``delivery.send`` job: one accepted request (or a retry of some of its recipients)."""

    recipients: list[Recipient]

    def stored(self, recipient: Recipient) -> StoredMessage:
        """What the ledger keeps of one recipient's message so that it can be resent."""
        return StoredMessage(**self.header(), recipient=recipient)


class StoredMessage(JobHeader, kw_only=True):
    """``messages.payload``: a message not (yet) sent, enough to queue it again (``/v1/messages/resend``)."""

    recipient: Recipient

    def resend(self, accepted_at: str) -> DeliveryJob:
        """A fresh job for this recipient: a first attempt, accepted at ``accepted_at``."""
        header = {**self.header(), "acceptedAt": accepted_at}
        return DeliveryJob(**header, recipients=[msgspec.structs.replace(self.recipient, attempt=1)])


class LedgerRow(TypedDict):
    """One ``messages`` row as the worker writes it (a plain dict at run time: the insert takes dicts)."""

    id: str
    org_id: str
    sandbox_id: str
    campaign_id: str
    execution_id: str
    request_id: str
    user_id: str
    recipient: str
    channel: str
    status: MessageStatus
    attempts: int
    response: str
    rendered_size: int
    header_message_id: str
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any] | None
    """``StoredMessage`` as JSON, kept while the message is not sent."""


EventKind = Literal[
    "sent",
    "retry",
    "failed",
    "expired",
    "resent",
    "suppressed",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
]
"""What can happen to a message: its attempts' outcomes (``retry`` is a deferral), a resend, and the feedback
that comes back later (``delivery/feedback.py``)."""


class EventRow(TypedDict):
    """One ``message_events`` row: an attempt's outcome as the worker records it, a resend, or feedback."""

    message_id: str
    org_id: str
    sandbox_id: str
    campaign_id: str
    kind: EventKind
    attempt: int
    response: str
    header_message_id: str
    data: dict[str, Any] | None
    at: datetime


class DeliveryEvent(msgspec.Struct):
    """The JSON event POSTed to a campaign's webhook: ``eventType`` is ``message.<kind>`` (a final status,
    ``message.deferred``, or feedback: ``delivery/webhooks.event_body`` adds the kind's data)."""

    eventType: str
    messageId: str
    executionId: str
    campaignId: str
    requestId: str
    userId: str
    recipient: str
    status: str
    attempts: int
    response: str
    timestamp: str


class WebhookRetry(msgspec.Struct):
    """The payload of a ``delivery.webhook`` job: an event to POST (feedback's, or one whose endpoint asked
    to be tried again)."""

    url: str
    event: dict[str, Any]
    """A ``DeliveryEvent`` as JSON (read back as it was stored)."""
    org: str | None = None
    """The organization whose throttling paces the call (retries queued before it was recorded: none)."""


# --- Campaign previews and statistics (/v1/campaigns/preview, /v1/campaigns/{id}/preview, …/stats).


class ProfileIdentity(BaseModel):
    """A profile picked by one of its identities (standard mode only)."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=256)


class SavedPreviewRequest(BaseModel):
    """What to render a saved campaign with: sample context data and, in standard mode, a profile."""

    model_config = ConfigDict(extra="forbid")

    context: dict[str, Any] = Field(default_factory=dict)
    """The ``context`` of an execution request, as a trigger would give it."""
    profile: ProfileIdentity | None = None


class PreviewRequest(SavedPreviewRequest):
    """Draft content to render, as a campaign carries it, with sample data."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    channel: Literal["email", "sms", "push"]
    high_throughput_mode: bool = False
    content: CampaignContent

    @model_validator(mode="after")
    def _content_for_channel(self) -> PreviewRequest:
        if getattr(self.content, self.channel) is None:
            raise ValueError(f"content.{self.channel}: required for channel {self.channel!r}")
        return self


class PreviewRead(BaseModel):
    """The rendered message; only the fields of its channel are present."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    channel: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    title: str | None = None
    body: str | None = None
    data: dict[str, str] | None = None


class HourlyCounts(BaseModel):
    """Messages accepted in one hour, by their status now, and the feedback events of that hour by kind."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    start: datetime
    counts: dict[str, int]
    events: dict[str, int] = Field(
        default_factory=dict,
        description="Feedback events recorded in this hour by kind (bounced, complained, unsubscribed, "
        "opened, clicked; every open and click, not unique)",
    )


class BounceCounts(BaseModel):
    """Messages bounced, by the bounce's type (RFC 3463 class: hard is permanent, soft is temporary)."""

    total: int = 0
    hard: int = 0
    soft: int = 0


class OpenCounts(BaseModel):
    """Messages opened at least once: by a person, or only by a known prefetcher (``data.machine``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    unique: int = Field(default=0, description="Messages opened by a person (not a machine open)")
    machine: int = Field(default=0, description="Messages opened by a known prefetcher (machine opens)")


class CampaignRates(BaseModel):
    """Ratios in [0, 1] (0 when the denominator is 0)."""

    bounce: float = Field(description="bounced / sent attempts (sent + bounced at the relay)")
    complaint: float = Field(description="complained / delivered")
    open: float = Field(description="unique human opens / delivered")
    click: float = Field(description="unique clicks / delivered")
    unsubscribe: float = Field(description="unsubscribed / delivered")


class CampaignStats(BaseModel):
    """A campaign's messages by status (all time) and per hour over the last ``hours``, and what happened
    to them after sending, counted per message from its events (all time).

    ``sent``: messages the relay took; ``delivered``: sent and not bounced later; ``bounced``: refused by
    the relay or reported by a bounce later; ``complained``, ``unsubscribed``, ``clicked``: messages with
    such an event (unique per message); ``opened``: unique opens, a person's apart from machine opens;
    ``suppressed``: never sent, the address was on the suppression list.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    campaign_id: str
    total: int
    counts: dict[str, int]
    since: datetime
    hourly: list[HourlyCounts]
    sent: int = 0
    delivered: int = 0
    bounced: BounceCounts = Field(default_factory=BounceCounts)
    complained: int = 0
    unsubscribed: int = 0
    suppressed: int = 0
    opened: OpenCounts = Field(default_factory=OpenCounts)
    clicked: int = Field(default=0, description="Unique clicks: messages with at least one click")
    rates: CampaignRates = Field(
        default_factory=lambda: CampaignRates(bounce=0, complaint=0, open=0, click=0, unsubscribe=0)
    )
