"""What the throttle runtime reads: rules in force, draining after undeploy or forced delete, the revision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from clarion.container import Container
from clarion.models.throttling import ThrottlingConfig
from clarion.throttling.endpoints import PREFIXES
from clarion.throttling.service import DRAIN, capping_rules, rules_revision, throttle_rules
from tests.throttling.conftest import CAPPING_BODY, THROTTLING_BODY, Jo

CONFIGS = "/throttlingConfigs"


@pytest.fixture
def prefix() -> str:
    """The runtime does not care which prefix wrote the configuration: one is enough here."""
    return PREFIXES[0]


async def rules(container: Container, jo: Jo) -> list[Any]:
    async with container.unit_of_work() as uow:
        return await throttle_rules(uow, jo.tenant.org_id)


async def revision(container: Container, jo: Jo) -> int:
    async with container.unit_of_work() as uow:
        return await rules_revision(uow.session, jo.tenant.org_id)


async def age_undeploy(container: Container, uid: str, by: timedelta) -> None:
    """Move a configuration's undeploy into the past (instead of waiting)."""
    async with container.unit_of_work() as uow:
        config = await uow.session.get(ThrottlingConfig, uid)
        assert config is not None
        assert config.undeployed_at is not None
        await uow.session.execute(
            update(ThrottlingConfig)
            .where(ThrottlingConfig.id == uid)
            .values(undeployed_at=config.undeployed_at - by)
        )
        await uow.commit()


async def test_deployed_config_is_a_rule(jo: Jo, container: Container) -> None:
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    assert await rules(container, jo) == []
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    (rule,) = await rules(container, jo)
    assert (rule.config_uid, rule.org_id, rule.max_throughput) == (uid, jo.tenant.org_id, 4000)
    assert rule.methods == frozenset({"POST", "PUT"})
    assert rule.draining_until is None
    assert rule.pattern.matches("https://api.example.org/data/2.5/weather?q=x")
    assert not rule.pattern.matches("https://api.example.org/data/3.0/weather")


async def test_update_of_a_deployed_config_changes_the_rule_at_once(jo: Jo, container: Container) -> None:
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    body = {"urlPattern": "https://sms.example.net/*", "methods": ["POST"], "maxThroughput": 200}
    await jo.call("PUT", f"{CONFIGS}/{uid}", body, expect=200)
    (rule,) = await rules(container, jo)
    assert (rule.pattern.text, rule.methods, rule.max_throughput) == (body["urlPattern"], {"POST"}, 200)


async def test_undeployed_config_drains_for_24_hours(jo: Jo, container: Container) -> None:
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    before = datetime.now(UTC)
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    (rule,) = await rules(container, jo)
    assert rule.draining_until is not None
    assert before + DRAIN <= rule.draining_until <= datetime.now(UTC) + DRAIN
    # Edits after the undeploy do not change what drains.
    await jo.call("PUT", f"{CONFIGS}/{uid}", THROTTLING_BODY | {"maxThroughput": 999}, expect=200)
    assert (await rules(container, jo))[0].max_throughput == 4000
    await age_undeploy(container, uid, DRAIN + timedelta(seconds=1))
    assert await rules(container, jo) == []


async def test_forced_delete_keeps_draining_then_is_purged(jo: Jo, container: Container) -> None:
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    await jo.call("DELETE", f"{CONFIGS}/{uid}?forceDelete=true", expect=200)
    (rule,) = await rules(container, jo)
    assert rule.config_uid == uid
    assert rule.draining_until is not None
    replacement = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("POST", f"{CONFIGS}/{replacement}/deploy", expect=204)
    assert {rule.config_uid for rule in await rules(container, jo)} == {uid, replacement}
    await age_undeploy(container, uid, DRAIN + timedelta(seconds=1))
    assert [rule.config_uid for rule in await rules(container, jo)] == [replacement]
    await jo.call("DELETE", f"{CONFIGS}/{replacement}?forceDelete=true", expect=200)
    await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)  # purges the drained tombstone
    async with container.unit_of_work() as uow:
        assert await uow.session.get(ThrottlingConfig, uid) is None


async def test_never_deployed_config_is_deleted_at_once(jo: Jo, container: Container) -> None:
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("DELETE", f"{CONFIGS}/{uid}", expect=200)
    async with container.unit_of_work() as uow:
        assert await uow.session.get(ThrottlingConfig, uid) is None


async def test_revision_moves_on_every_write_only(jo: Jo, container: Container) -> None:
    assert await revision(container, jo) == 0
    uid = (await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=200)).json()["uid"]
    seen = [await revision(container, jo)]
    writes = [
        ("POST", f"{CONFIGS}/{uid}/deploy", None),
        ("PUT", f"{CONFIGS}/{uid}", THROTTLING_BODY),
        ("POST", f"{CONFIGS}/{uid}/undeploy", None),
        ("DELETE", f"{CONFIGS}/{uid}", None),
        ("POST", "/endpointConfigs", CAPPING_BODY),
    ]
    for method, path, body in writes:
        await jo.call(method, path, body)
        seen.append(await revision(container, jo))
    assert seen == sorted(set(seen)), seen
    assert seen[0] >= 1
    await jo.call("POST", "/list/throttlingConfigs", expect=200)
    await jo.call("POST", "/list/endpointConfigs", expect=200)
    assert await revision(container, jo) == seen[-1]


async def test_capping_rules_come_from_the_deployed_snapshot(jo: Jo, container: Container) -> None:
    body = CAPPING_BODY | {
        "methods": ["GET", "OPTION"],
        "services": {"action": {"rating": {"maxCallsCount": 500, "periodInMs": 1000}}},
    }
    uid = (await jo.call("POST", "/endpointConfigs", body, expect=200)).json()["uid"]
    sandbox_id = await jo.sandbox_id()

    async def current() -> list[Any]:
        async with container.unit_of_work() as uow:
            return await capping_rules(uow, jo.tenant.org_id, sandbox_id)

    assert await current() == []
    await jo.call("POST", f"/endpointConfigs/{uid}/deploy", expect=204)
    (rule,) = await current()
    assert (rule.config_uid, rule.sandbox_id, rule.service) == (uid, sandbox_id, "action")
    assert (rule.max_calls, rule.period_ms, rule.max_http_connections) == (500, 1000, None)
    assert rule.methods == frozenset({"GET", "OPTIONS"})
    assert rule.pattern.matches("https://api.example.org/data/2.5/weather")
    changed = body | {
        "services": {"action": {"maxHttpConnections": 9, "rating": {"maxCallsCount": 7, "periodInMs": 60}}}
    }
    await jo.call("PUT", f"/endpointConfigs/{uid}", changed, expect=200)
    assert (await current())[0].max_calls == 500  # a capping change needs a redeploy
    await jo.call("POST", f"/endpointConfigs/{uid}/deploy", expect=204)
    (rule,) = await current()
    assert (rule.max_calls, rule.period_ms, rule.max_http_connections) == (7, 60, 9)
    dev = await jo.new_sandbox()
    elsewhere = (await dev.call("POST", "/endpointConfigs", CAPPING_BODY, expect=200)).json()["uid"]
    await dev.call("POST", f"/endpointConfigs/{elsewhere}/deploy", expect=204)
    assert [rule.config_uid for rule in await current()] == [uid]
    await jo.call("POST", f"/endpointConfigs/{uid}/undeploy", expect=204)
    assert await current() == []
