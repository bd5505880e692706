"""Webhooks per event type: who subscribes to what, and the body POSTed for a message event.

A campaign's webhook (``enableWebhooks``, ``webhookUrl``) subscribes to ``webhookEvents`` (default: every
final status, ``campaigns.schemas.DEFAULT_WEBHOOK_EVENTS``). The worker reads the subscription from its
cached ``Bundle``; ``feedback.record_feedback`` reads it here, from a small per-process cache of the
campaigns it met (one query for the misses of a batch, never one per feedback item), and defers one
``delivery.webhook`` job per subscribed event: the job POSTs it and lets the queue back off when the
endpoint asks to be tried again (408, 429, 5xx).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import WebhookSettings
from clarion.db.uow import UnitOfWork
from clarion.delivery.schemas import DeliveryEvent, WebhookRetry
from clarion.kit.clock import iso_milli
from clarion.queue.port import JobSpec

WEBHOOK_TASK = "delivery.webhook"
QUEUE = "delivery"
SETTINGS_TTL = 5.0
"""Seconds a campaign's subscription is served from the cache: a changed ``webhookEvents`` applies to
feedback within this (the worker's bundles pick it up within ``bundle.BUNDLE_TTL``)."""
_MAX_ENTRIES = 10_000

_Key = tuple[str, str, str]
_DATA_NAMES = {"type": "bounceType", "status": "bounceStatus"}
"""Keys of a feedback's ``data`` renamed in a webhook body: ``status`` there is the message's status."""


class SubscriptionCache:
    """Campaign webhook subscriptions by ``(org, sandbox, campaign)``, each kept ``ttl`` seconds."""

    def __init__(self, *, ttl: float = SETTINGS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[_Key, tuple[WebhookSettings | None, float]] = {}

    async def get(self, uow: UnitOfWork, keys: Iterable[_Key]) -> dict[_Key, WebhookSettings | None]:
        """The subscriptions of these campaigns (None: the campaign is gone); misses read in one query
        with the caller's session (inline, so the session is never used by two tasks at once)."""
        now = self._clock()
        found: dict[_Key, WebhookSettings | None] = {}
        missing: list[_Key] = []
        for key in set(keys):
            entry = self._entries.get(key)
            if entry is not None and entry[1] > now:
                found[key] = entry[0]
            else:
                missing.append(key)
        if missing:
            loaded = await campaigns.webhook_settings(uow, missing)
            if len(self._entries) + len(missing) > _MAX_ENTRIES:
                self._entries.clear()
            for key in missing:
                found[key] = loaded.get(key)
                self._entries[key] = (found[key], now + self._ttl)
        return found

    def forget(self) -> None:
        """Drop every entry (tests; a process that must see a change at once)."""
        self._entries.clear()


SUBSCRIPTIONS = SubscriptionCache()
"""The process's cache: ``record_feedback`` is a function every caller shares, so its cache is too."""


def event_body(
    *,
    event_type: str,
    message_id: str,
    execution_id: str,
    campaign_id: str,
    request_id: str,
    user_id: str,
    recipient: str,
    status: str,
    attempts: int,
    response: str,
    at: Any,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A webhook body: the ``DeliveryEvent`` fields, then the kind's ``data`` (a bounce's ``bounceType``,
    ``bounceStatus`` and ``diagnostic``, a click's ``url``, an open's ``machine`` …)."""
    event = DeliveryEvent(
        eventType=event_type,
        messageId=message_id,
        executionId=execution_id,
        campaignId=campaign_id,
        requestId=request_id,
        userId=user_id,
        recipient=recipient,
        status=status,
        attempts=attempts,
        response=response,
        timestamp=iso_milli(at),
    )
    body: dict[str, Any] = msgspec.to_builtins(event)
    for name, value in (data or {}).items():
        body.setdefault(_DATA_NAMES.get(name, name), value)
    return body


def webhook_job(url: str, body: dict[str, Any], org_id: str) -> JobSpec:
    """The ``delivery.webhook`` job that POSTs ``body`` (retried with backoff by the queue)."""
    return JobSpec(WEBHOOK_TASK, WebhookRetry(url=url, event=body, org=org_id), queue=QUEUE)
