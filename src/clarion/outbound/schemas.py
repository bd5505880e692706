"""Wire shapes of the events API (``POST /v1/events``, msgspec: a hot path) and of the action-call ledger
API (``/v1/action-calls``)."""

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
