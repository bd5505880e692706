"""Wire shapes of the events API (``POST /v1/events``), decoded with msgspec (a hot path)."""

from __future__ import annotations

from typing import Any

import msgspec

MAX_EVENTS = 1000
MAX_CONTEXT_BYTES = 200 * 1024


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
