"""The ``outbound.call`` job payload keeps the JSON shape of the jobs already waiting in a queue."""

from __future__ import annotations

import msgspec

from clarion.outbound.schemas import CallJob

QUEUED_BEFORE = {
    "call": "c-1",
    "org": "org-1",
    "sandbox": "sb-1",
    "action": "a-1",
    "actionName": "notify_crm",
    "context": {"userId": "u-1"},
    "acceptedAt": 1780000000.25,
    "requestId": None,
    "throttle": "cfg-1",
}
"""A payload as the intake wrote it before ``CallJob`` existed (a plain dict)."""


def test_a_call_job_encodes_with_the_keys_of_queued_jobs() -> None:
    job = msgspec.convert(QUEUED_BEFORE, CallJob)
    assert (job.action_name, job.accepted_at, job.request_id, job.throttle) == (
        "notify_crm",
        1780000000.25,
        None,
        "cfg-1",
    )
    assert msgspec.json.decode(msgspec.json.encode(job)) == QUEUED_BEFORE
    assert list(msgspec.to_builtins(job)) == list(QUEUED_BEFORE)


def test_a_whole_second_acceptance_time_decodes() -> None:
    assert msgspec.convert({**QUEUED_BEFORE, "acceptedAt": 1780000000}, CallJob).accepted_at == 1780000000.0
