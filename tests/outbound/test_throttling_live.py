"""The live throttling view (GET /v1/throttling/live): the overflow queue and the rate, per configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clarion.container import Container
from clarion.ops.metrics import Metrics
from clarion.outbound.repository import upsert_calls
from clarion.outbound.schemas import CallRecord
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.actions.conftest import sandbox_id
from tests.builders import Api
from tests.outbound.conftest import (
    THROTTLING,
    Target,
    call_row,
    deploy_throttle,
    eventually,
    fire,
    make_action,
)

LIVE = "/v1/throttling/live"


async def lanes(api: Api) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.call("GET", LIVE, expect=200)).json()["lanes"]
    return found


async def test_no_configuration_in_force_no_lane(api: Api) -> None:
    body = (await api.call("GET", LIVE, expect=200)).json()
    assert body["lanes"] == []
    assert body["windowSeconds"] == 5.0
    assert datetime.fromisoformat(body["measuredAt"]) <= datetime.now(UTC)


async def test_queue_fills_then_drains_while_the_rate_rises(
    api: Api, make_api: Any, target: Target, services: Services
) -> None:
    action = await make_action(api, target)
    uid = await deploy_throttle(api, target, rate=200)
    await fire(api, action["name"], range(300))
    (lane,) = await lanes(api)
    assert lane | {"queued": 300, "inFlight": 0, "rate": 0.0} == lane
    assert (lane["configUid"], lane["name"], lane["maxThroughput"]) == (uid, "t", 200)
    assert (lane["deployed"], lane["drainingUntil"]) == (True, None)
    assert 0 <= lane["oldestQueuedSeconds"] < 30

    # Another organization sees nothing of it.
    assert await lanes(await make_api()) == []

    background = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await background.start()
    try:

        async def drained() -> bool:
            (now,) = await lanes(api)
            return bool(now["queued"] == 0 and now["inFlight"] == 0 and now["rate"] > 0)

        await eventually(drained)
    finally:
        await background.stop()
    (lane,) = await lanes(api)
    assert lane["oldestQueuedSeconds"] is None
    assert 0 < lane["rate"] <= 300 / 5


async def test_an_undeployed_configuration_shows_while_it_drains(api: Api, target: Target) -> None:
    uid = await deploy_throttle(api, target, rate=200)
    await api.call("POST", f"{THROTTLING}/{uid}/undeploy", expect=204)
    (lane,) = await lanes(api)
    assert lane["configUid"] == uid
    assert lane["deployed"] is False
    assert datetime.fromisoformat(lane["drainingUntil"]) > datetime.now(UTC) + timedelta(hours=23)


async def test_rate_counts_the_organizations_calls_finished_in_the_window(
    api: Api, make_api: Any, target: Target, container: Container
) -> None:
    uid = await deploy_throttle(api, target, rate=200)
    now = datetime.now(UTC)
    sandbox = await sandbox_id(api)
    other = await make_api()
    rows = [
        *(call_row(api.tenant.org_id, sandbox, status="sent", updated_at=now) for _ in range(10)),
        call_row(api.tenant.org_id, sandbox, status="failed", updated_at=now),
        call_row(api.tenant.org_id, sandbox, status="queued", updated_at=now),  # not finished
        call_row(api.tenant.org_id, sandbox, status="sent", updated_at=now - timedelta(seconds=30)),
        # The same uid in another organization's ledger is not this organization's.
        call_row(other.tenant.org_id, await sandbox_id(other), status="sent", updated_at=now),
    ]
    async with container.unit_of_work() as uow:
        await upsert_calls(uow.session, [CallRecord(**(row | {"throttle_config_uid": uid})) for row in rows])
        await uow.commit()
    (lane,) = await lanes(api)
    assert lane["rate"] == 11 / 5
