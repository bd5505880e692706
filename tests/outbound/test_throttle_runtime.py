"""Throttled calls: paced at the configured rate, in arrival order, durable across restarts, expiring."""

from __future__ import annotations

import time
from typing import Any

from clarion.container import Container
from clarion.kit.ids import new_reference
from clarion.ops.metrics import Metrics
from clarion.outbound.queues import CALL_TASK, throttle_queue
from clarion.queue.port import JobSpec
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.builders import Api
from tests.outbound.conftest import (
    THROTTLING,
    Target,
    calls_in,
    deploy_throttle,
    eventually,
    fire,
    make_action,
)


async def test_calls_under_a_deployed_configuration_are_paced_in_arrival_order(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    await deploy_throttle(api, target, rate=200)
    calls = await fire(api, action["name"], range(120))
    assert all(call["throttled"] for call in calls)
    target.expected = 120
    await eventually(lambda: _arrived(target))
    assert_fifo(target.seqs(), 120)
    # Slots are 5 ms apart. Measured from the 11th arrival: the first calls of a lane also wait for the
    # action, the rules and a connection to load, and once they arrived ~120 ms late, shortening a span
    # taken from the first. The last 110 calls span 109 slots (0.545 s); unthrottled they would all
    # arrive within a few tens of milliseconds.
    span = target.arrivals[-1][1] - target.arrivals[10][1]
    assert span >= 109 / 200 - 0.05
    sent = await calls_in(api, "sent")
    assert len(sent) == 120
    assert {row["attempts"] for row in sent} == {1}


async def test_calls_without_a_configuration_are_sent_at_once_and_recorded(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    response = await api.call(
        "POST", "/v1/events", {"action": action["id"], "context": {"seq": 7}}, expect=202
    )
    call = response.json()
    assert call["throttled"] is False
    assert call["status"] == "queued"

    async def sent() -> bool:
        row = (await api.call("GET", f"/v1/action-calls/{call['id']}", expect=200)).json()
        return bool(row["status"] == "sent")

    await eventually(sent)
    assert target.seqs() == [7]


async def test_queued_calls_survive_a_restart_and_are_sent_once(
    api: Api, target: Target, services: Services
) -> None:
    action = await make_action(api, target)
    await deploy_throttle(api, target, rate=200)
    await fire(api, action["name"], range(150))
    first = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await first.start()
    target.expected = 20
    await eventually(lambda: _arrived(target))
    await first.stop()  # graceful: calls already taken finish, the rest stay queued
    assert len(target.arrivals) < 150
    second = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await second.start()
    try:
        target.expected = 150
        target.arrived.clear()
        await eventually(lambda: _arrived(target), timeout=40)
        await eventually(lambda: _count(api, "sent", 150), timeout=40)
    finally:
        await second.stop()
    assert_fifo(target.seqs(), 150)  # none lost, none twice, and still in order


async def test_calls_queued_longer_than_six_hours_expire_unsent(
    api: Api, target: Target, container: Container, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    uid = await deploy_throttle(api, target, rate=200)
    old = time.time() - 6 * 3600 - 5
    sandboxes = (await api.call("GET", "/v1/sandboxes", expect=200)).json()["items"]
    sandbox = next(item["id"] for item in sandboxes if item["name"] == "prod")
    payload = _payload(api, action, sandbox, accepted_at=old, throttle=uid)
    await container.queue.enqueue(
        [JobSpec(CALL_TASK, payload, queue=throttle_queue(uid), job_id=payload["call"])]
    )
    await eventually(lambda: _count(api, "expired", 1))
    assert target.arrivals == []


async def test_undeploy_stops_throttling_new_calls_while_queued_ones_drain(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    uid = await deploy_throttle(api, target, rate=200)
    queued = await fire(api, action["name"], range(40))
    await api.call("POST", f"{THROTTLING}/{uid}/undeploy", expect=204)
    worker.services.rules.forget()
    later = await fire(api, action["name"], range(40, 45))
    assert all(call["throttled"] for call in queued)
    assert not any(call["throttled"] for call in later)
    target.expected = 45
    await eventually(lambda: _arrived(target))
    assert sorted(target.seqs()) == list(range(45))


async def test_retries_three_times_then_fails_but_never_retries_a_404(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    target.status = 503
    await fire(api, action["name"], [1])
    await eventually(lambda: _count(api, "failed", 1))
    assert target.seqs() == [1, 1, 1, 1]  # the first try and three retries
    failed = await calls_in(api, "failed")
    assert failed[0]["attempts"] == 4
    assert failed[0]["responseStatus"] == 503
    target.status = 404
    await fire(api, action["name"], [2])
    await eventually(lambda: _count(api, "failed", 2))
    assert target.seqs().count(2) == 1


def assert_fifo(seqs: list[int], count: int) -> None:
    """Every call exactly once, started in acceptance order.

    Calls *start* in slot order; concurrent requests on different connections may still *arrive* a few
    places apart (one opens a connection, the next reuses one), so arrival order may differ locally.
    """
    assert sorted(seqs) == list(range(count))
    displacement = max(abs(position - seq) for position, seq in enumerate(seqs))
    assert displacement <= 16, seqs  # 80 ms at 200/s: far below what a lost order would show


async def _arrived(target: Target) -> bool:
    return target.arrived.is_set()


async def _count(api: Api, status: str, expected: int) -> bool:
    return len(await calls_in(api, status)) >= expected


def _payload(
    api: Api, action: dict[str, Any], sandbox: str, *, accepted_at: float, throttle: str
) -> dict[str, Any]:
    return {
        "call": new_reference(),
        "org": api.tenant.org_id,
        "sandbox": sandbox,
        "action": action["id"],
        "actionName": action["name"],
        "context": {"seq": 0},
        "acceptedAt": accepted_at,
        "requestId": None,
        "throttle": throttle,
    }


async def test_a_deployed_capping_configuration_refuses_calls_over_its_limit(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    capping = {
        "url": f"{target.server.url}/*",
        "methods": ["POST"],
        "services": {"action": {"rating": {"maxCallsCount": 2, "periodInMs": 60_000}}},
    }
    created = await api.call("POST", "/journey/orchestration/endpointConfigs", capping, expect=200)
    uid = created.json()["uid"]
    await api.call("POST", f"/journey/orchestration/endpointConfigs/{uid}/deploy", expect=204)
    await fire(api, action["name"], range(5))
    await eventually(lambda: _count(api, "failed", 3))
    assert len(await calls_in(api, "sent")) == 2
    refused = await calls_in(api, "failed")
    assert all("capped: more than 2 calls per 60000 ms" in row["response"] for row in refused)
    assert len(target.arrivals) == 2  # refused calls never left


async def test_throttled_calls_are_counted_per_configuration(
    api: Api, target: Target, worker: BackgroundServices
) -> None:
    action = await make_action(api, target)
    uid = await deploy_throttle(api, target, rate=200)
    await fire(api, action["name"], range(5))
    await eventually(lambda: _count(api, "sent", 5))

    async def counted() -> bool:
        value = worker.metrics.registry.get_sample_value(
            "clarion_throttled_calls_total", {"config": uid, "status": "sent"}
        )
        return value == 5

    await eventually(counted)
    waited = worker.metrics.registry.get_sample_value(
        "clarion_throttle_oldest_queued_seconds", {"config": uid}
    )
    assert waited is not None
    assert waited >= 0
