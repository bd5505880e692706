"""Delivery jobs and stored payloads written as plain dicts (before the typed contract) still read, and
read back to the same JSON."""

from __future__ import annotations

from typing import Any

import msgspec

from clarion.delivery.schemas import DeliveryJob, Recipient, StoredMessage, WebhookRetry

HEADER: dict[str, Any] = {
    "org": "org-1",
    "sandbox": "sbx-1",
    "campaign": "cmp-1",
    "version": 3,
    "channel": "sms",
    "execution": "exe-1",
    "requestId": "req-1",
    "acceptedAt": "2026-01-02T03:04:05.678Z",
}
RECIPIENT: dict[str, Any] = {
    "index": 4,
    "userId": "u4",
    "namespace": "phone",
    "channelData": {"emailAddress": None, "mobilePhoneNumber": "+15550001111", "pushInfo": None},
    "context": {"code": "123"},
    "profile": {"mobilePhone": {"number": "+15550002222"}},
}


def round_trip(document: dict[str, Any], kind: type[msgspec.Struct]) -> Any:
    return msgspec.json.decode(msgspec.json.encode(msgspec.convert(document, kind)))


def test_first_attempt_and_retry_jobs_read_back_unchanged() -> None:
    first = {**HEADER, "recipients": [{"index": 0, "userId": "a@b.example", "namespace": "email"}]}
    retry = {**HEADER, "recipients": [{**RECIPIENT, "attempt": 3}]}

    assert round_trip(first, DeliveryJob) == first
    assert round_trip(retry, DeliveryJob) == retry
    job = msgspec.convert(retry, DeliveryJob)
    assert job.recipients[0].attempt == 3
    assert msgspec.convert(first, DeliveryJob).recipients[0].attempt == 1  # absent: a first attempt


def test_a_stored_payload_resends_as_a_first_attempt() -> None:
    stored = {**HEADER, "recipient": {**RECIPIENT, "attempt": 5}}

    assert round_trip(stored, StoredMessage) == stored
    job = msgspec.convert(stored, StoredMessage).resend("2026-02-03T04:05:06.789Z")

    assert msgspec.to_builtins(job) == {
        **HEADER,
        "acceptedAt": "2026-02-03T04:05:06.789Z",
        "recipients": [RECIPIENT],  # attempt 1: left out, as on every first attempt
    }


def test_the_ledger_keeps_the_job_without_recipients_plus_the_recipient() -> None:
    job = msgspec.convert({**HEADER, "recipients": [RECIPIENT]}, DeliveryJob)
    recipient = msgspec.convert(RECIPIENT, Recipient)

    assert msgspec.to_builtins(job.stored(recipient)) == {**HEADER, "recipient": RECIPIENT}


def test_webhook_retries_read_with_or_without_the_organization() -> None:
    event = {"eventType": "message.sent", "messageId": "exe-1:0"}
    old = msgspec.convert({"url": "https://hook.example/x", "event": event}, WebhookRetry)
    new = {"url": "https://hook.example/x", "event": event, "org": "org-1"}

    assert (old.org, old.event) == (None, event)
    assert round_trip(new, WebhookRetry) == new
