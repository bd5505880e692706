"""Outbound's contracts: the events API's wire shapes (``POST /v1/events``, msgspec: a hot path), the
``outbound.call`` job payload (``CallJob``), a call asked for by another domain (``NewCall``), a ledger
record (``CallRecord``), the /v1/action-calls view."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

MAX_EVENTS = 1000
MAX_CONTEXT_BYTES = 200 * 1024

CallStatus = Literal["queued", "sent", "failed", "expired"]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    """One event: the custom action to invoke (name or id) and the context its templates read."""

    action: str
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class EventBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Up to ``MAX_EVENTS`` events accepted (or refused) together."""

    events: list[Event]


class AcceptedCall(msgspec.Struct):
    """A call accepted for sending: its ledger id and how it leaves."""

    id: str
    actionId: str
    actionName: str
    status: str
    throttled: bool


class AcceptedBatch(msgspec.Struct):
    """The answer to a batch, calls in the order of the events."""

    calls: list[AcceptedCall]


event_decoder = msgspec.json.Decoder(Event)
batch_decoder = msgspec.json.Decoder(EventBatch)
encoder = msgspec.json.Encoder()


class CallJob(msgspec.Struct, kw_only=True, rename="camel"):
    """The payload of an ``outbound.call`` job: one call of a custom action, as queued.

    Its JSON keys (``call, org, sandbox, action, actionName, context, acceptedAt, requestId, throttle``)
    are those of every job queued so far: renaming a field would strand the calls waiting in a queue.
    """

    call: str
    """The call's id: also its job id and its ledger id."""
    org: str
    sandbox: str
    action: str
    """The custom action's id (the sender loads it when the call leaves)."""
    action_name: str
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    """What the action's templates read."""
    accepted_at: float
    """Unix time the call was accepted (its 6-hour lifetime starts then)."""
    request_id: str | None = None
    throttle: str | None = None
    """The uid of the throttling configuration pacing the call (None: sent at once)."""


class NewCall(msgspec.Struct, frozen=True):
    """A call another domain asks for: its id (the caller's, the same on every retry) and its context."""

    id: str
    context: dict[str, Any]


class CallRecord(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A call's state as the ledger stores it: one ``action_calls`` row (fields named as its columns)."""

    id: str
    org_id: str
    sandbox_id: str
    action_id: str
    action_name: str
    status: CallStatus
    attempts: int = 0
    response_status: int | None = None
    response: str = ""
    latency_ms: float | None = None
    throttle_config_uid: str | None = None
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    request_id: str | None = None


class ActionCallRead(BaseModel):
    """One call of a custom action: its status, attempts, last answer and latency."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: str
    action_id: str
    action_name: str
    status: str
    attempts: int
    response_status: int | None
    response: str
    latency_ms: float | None
    throttle_config_uid: str | None
    request_id: str | None
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class ThrottleLane(BaseModel):
    """One throttling configuration in force, now: its rate against its maximum and its overflow queue."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    config_uid: str
    name: str
    deployed: bool
    """False while an undeployed configuration drains what it queued (for 24 h)."""
    draining_until: datetime | None
    max_throughput: int
    """The configured maximum, calls per second."""
    rate: float
    """Calls finished (sent, failed or expired) per second over the last ``windowSeconds``."""
    queued: int
    """Calls waiting in the overflow queue."""
    in_flight: int
    """Calls taken by a dispatcher: waiting for their slot or on the wire."""
    delayed: int
    oldest_queued_seconds: float | None
    """How long the next call to leave has waited since it was accepted (None: nothing waits)."""


class ThrottlingLive(BaseModel):
    """The organization's throttling configurations in force (deployed or draining), measured now."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    measured_at: datetime
    window_seconds: float
    lanes: list[ThrottleLane]
