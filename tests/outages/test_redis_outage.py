"""Redis killed and restarted under a running API: 503 + Retry-After while it is down, then service by itself.

Each test runs its own ``redis-server`` (AOF on, ``appendfsync always``), so these run on either backend run.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from clarion.config import Settings
from clarion.container import Container
from clarion.ops.logging import configure_logging
from clarion.queue.redis_persistence import AOF_OFF, persistence_warnings
from tests.builders import Api
from tests.conftest import TEST_SECRET_KEY
from tests.outages.servers import RedisServer, eventually

HT = "/ajo/im/executions/highthroughput"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_server: RedisServer) -> Settings:
    """The test settings with the queue and limiter on this test's own Redis."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        queue_url=redis_server.url,
        redis_prefix=f"clarion-test-{secrets.token_hex(4)}",
        auto_migrate=False,
        smtp_capture=False,
        feedback_smtp=False,
        auth_cache_seconds=0,
        secret_key=TEST_SECRET_KEY,
    )


async def ht_campaign(api: Api) -> str:
    pool = await api.pool("htpool")
    configuration = await api.configuration(pool["id"], name="htmail", high_throughput=True)
    campaign = await api.campaign(configuration["id"], high_throughput=True, name="HT")
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return str(campaign["id"])


def trigger_body(campaign_id: str) -> dict[str, object]:
    context = {"order": {"id": "A-1"}, "name": "Ada"}
    recipient = {"type": "external", "userId": "ada@example.com", "namespace": "email", "context": context}
    return {"requestId": "outage", "campaignId": campaign_id, "recipients": [recipient]}


async def queued_jobs(container: Container) -> int:
    stats = await container.queue.stats()
    return sum(stats.ready.values()) + sum(stats.leased.values()) + sum(stats.delayed.values())


async def test_a_redis_restart_is_503_then_service_resumes_and_nothing_acknowledged_is_lost(
    api: Api,
    client: httpx.AsyncClient,
    container: Container,
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    campaign_id = await ht_campaign(api)
    headers = api.tenant.headers()

    async def trigger(request_id: str) -> httpx.Response:
        return await client.post(
            HT, json=trigger_body(campaign_id), headers={**headers, "x-request-id": request_id}
        )

    before = await trigger("before-the-outage")
    assert before.status_code == 202, before.text
    redis_server.kill()
    configure_logging("json", "INFO")

    started = time.monotonic()
    during = await trigger("during-the-outage")
    answered_in = time.monotonic() - started
    assert during.status_code == 503, during.text
    assert answered_in < 5, "an outage must be answered promptly, not after the client gave up"
    assert during.headers["Retry-After"] == "5"
    body = during.json()
    assert body["status"] == 503
    assert body["title"] == "Service unavailable"
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/MSG-")
    assert body["report"]["additionalContext"]["dependency"] == "queue"
    assert body["report"]["additionalContext"]["requestId"] == during.headers["x-request-id"]
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    with capsys.disabled():
        print(f"HT intake answered 503 in {answered_in * 1000:.0f} ms while Redis was down")
    outage_lines = [line for line in logged if line.get("event") == "dependency_unavailable"]
    assert [line["request_id"] for line in outage_lines] == [during.headers["x-request-id"]]
    assert during.headers["x-request-id"] == "during-the-outage"

    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["components"] == {"database": {"status": "UP"}, "queue": {"status": "DOWN"}}
    health = await client.get("/ajo/im/health", headers=headers)
    assert (health.status_code, health.json()) == (503, {"status": "DOWN"})

    redis_server.start()
    attempts = iter(range(1_000_000))
    answer, recovered_in = await eventually(
        lambda: trigger(f"after-the-outage-{next(attempts)}"), lambda r: r.status_code == 202, within=30
    )
    print(f"HT intake answered 202 again {recovered_in:.2f} s after redis-server was back")
    assert answer.status_code == 202
    assert (await client.get("/readyz")).json()["status"] == "UP"
    # The job acknowledged before the kill survived it (AOF), and no 503 left a job behind.
    assert await queued_jobs(container) == 2


async def test_readyz_warns_when_redis_does_not_persist(
    client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["warnings"]) == (200, [])
    redis_server.kill()
    redis_server.appendonly = False
    redis_server.start()
    ready, _ = await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200)
    (warning,) = ready.json()["warnings"]
    assert "appendonly no" in warning
    assert "202" in warning


async def test_work_that_hands_jobs_to_a_dead_queue_is_refused_before_anything_is_committed(
    api: Api, client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    ups = "/data/core/ups"
    headers = api.tenant.headers()
    definition = {
        "name": "buyers",
        "expression": {"type": "PQL", "format": "pql/text", "value": 'person.name.firstName = "Ada"'},
        "schema": {"name": "_xdm.context.profile"},
    }
    created = await client.post(f"{ups}/segment/definitions", json=definition, headers=headers)
    assert created.status_code == 200, created.text
    redis_server.kill()

    refused = await client.post(
        f"{ups}/segment/jobs", json=[{"segmentId": created.json()["id"]}], headers=headers
    )

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["report"]["dependency"] == "queue"
    # The segment job row would wait forever for a job that was never queued: it was not written.
    listed = await client.get(f"{ups}/segment/jobs", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["children"] == []


async def test_a_redis_that_refuses_config_is_still_checked_through_info(tmp_path: Path) -> None:
    no_config = ("--rename-command", "CONFIG", "")  # what managed services do
    with RedisServer(tmp_path / "managed", appendonly=False, extra=no_config) as managed:
        assert await warnings_of(managed.url) == [AOF_OFF]
    with RedisServer(tmp_path / "managed-aof", appendonly=True, extra=no_config) as managed:
        assert await warnings_of(managed.url) == []


async def warnings_of(url: str) -> list[str]:
    client = redis.from_url(url)
    try:
        return await persistence_warnings(client)
    finally:
        await client.aclose()
