"""The throttle dispatcher renews the lease of a call on the wire: a slow target never makes another
process send the call again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from clarion.config import Settings
from clarion.container import Container
from clarion.outbound.queues import throttle_queue
from clarion.runtime import BackgroundServices
from tests.builders import Api
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer
from tests.outbound.conftest import Target, calls_in, deploy_throttle, eventually, fire, make_action

LEASE = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A one-second lease: the call below stays on the wire for three of them."""
    return settings.model_copy(update={"queue_lease_seconds": LEASE})


@pytest.fixture
async def slow_target() -> AsyncIterator[tuple[Target, asyncio.Event, asyncio.Event]]:
    """A target that answers only once the test releases it."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def answer(request: HttpRequest) -> HttpResponse:
        found.arrivals.append((json.loads(request.body)["seq"], time.monotonic()))
        arrived.set()
        await release.wait()
        return HttpResponse(200, b'{"ok": true}')

    found = Target(HttpServer(answer))
    async with found.server:
        yield found, arrived, release


async def test_a_call_on_the_wire_keeps_its_lease(
    api: Api,
    slow_target: tuple[Target, asyncio.Event, asyncio.Event],
    container: Container,
    worker: BackgroundServices,
) -> None:
    target, arrived, release = slow_target
    action = await make_action(api, target)
    uid = await deploy_throttle(api, target, rate=200)
    await fire(api, action["name"], [1])
    await asyncio.wait_for(arrived.wait(), timeout=20)

    # Three leases long, a rival polling the overflow queue never gets the call.
    began = time.monotonic()
    while time.monotonic() < began + 3 * LEASE:
        taken = await container.queue.reserve(throttle_queue(uid), limit=10, lease_seconds=LEASE)
        assert taken == [], "a call on the wire was taken over"
        await asyncio.sleep(0.05)  # pacing the rival's polls
    release.set()

    async def sent() -> bool:
        return len(await calls_in(api, "sent")) == 1

    await eventually(sent)
    assert target.seqs() == [1]
    [row] = await calls_in(api, "sent")
    assert row["attempts"] == 1
