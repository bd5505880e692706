"""Outbound's contracts: the ``outbound.call`` payload keeps the JSON shape of queued jobs; ActionCalls."""

from __future__ import annotations

import msgspec

from clarion.container import Container
from clarion.outbound.schemas import CallJob, NewCall
from clarion.outbound.service import ActionCalls
from clarion.services import Services

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


async def test_queueing_calls_of_a_deleted_action_queues_nothing(
    container: Container, services: Services
) -> None:
    loaded: list[tuple[str, str, str]] = []

    async def deleted(org_id: str, sandbox_id: str, action_id: str) -> None:
        loaded.append((org_id, sandbox_id, action_id))

    calls = ActionCalls(container.unit_of_work, container.queue, services.rules, deleted)
    assert await calls.queue("org-1", "sb-1", "a-1", [], request_id=None)
    assert loaded == []  # nothing to queue: the action is not even loaded
    assert not await calls.queue("org-1", "sb-1", "a-1", [NewCall("c-1", {})], request_id=None)
    assert loaded == [("org-1", "sb-1", "a-1")]
    assert sum((await container.queue.stats()).ready.values()) == 0
