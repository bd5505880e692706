"""The database unreachable under a running API: 503 + Retry-After in every family, service by itself after.

On the PostgreSQL run (``CLARION_TEST_DATABASE_URL``) Clarion reaches PostgreSQL through a TCP proxy that the
test cuts and restores; on the SQLite run the folder holding the database (and the embedded queue) is moved
away and back.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from clarion.config import Settings
from clarion.db.migrate import upgrade
from tests.builders import Api
from tests.conftest import QUEUE_URL, TEST_SECRET_KEY
from tests.outages.servers import TcpProxy, eventually
from tests.outages.test_redis_outage import HT, ht_campaign, trigger_body

Outage = tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
"""(break, repair) of the database."""


@pytest.fixture
async def database(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, Path, Outage]]:
    """A database URL for Clarion, the home folder, and how to take the database away and back."""
    if database_url.startswith("postgresql"):
        url = make_url(database_url)  # the suite's migrated database, reached through the proxy
        async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            yield via_proxy, tmp_path / "home", (proxy.cut, proxy.start)
        return
    data, away = tmp_path / "data", tmp_path / "data-moved-away"
    sqlite_url = f"sqlite:///{data / 'clarion.db'}"
    await asyncio.to_thread(upgrade, sqlite_url)  # upgrade runs its own event loop

    async def move_away() -> None:
        data.rename(away)

    async def move_back() -> None:
        away.rename(data)

    yield sqlite_url, data / "home", (move_away, move_back)
    if away.exists():
        away.rename(data)


@pytest.fixture
def settings(database: tuple[str, Path, Outage]) -> Settings:
    """The test settings on a database this test can take away."""
    url, home, _ = database
    return Settings(
        home=home,
        database_url=url,
        queue_url=QUEUE_URL,
        redis_prefix=f"clarion-test-{secrets.token_hex(4)}",
        auto_migrate=False,
        smtp_capture=False,
        feedback_smtp=False,
        auth_cache_seconds=0,
        secret_key=TEST_SECRET_KEY,
    )


def assert_aep_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["type"] == "https://ns.adobe.com/aep/errors/CLARION-0503-503"
    assert body["report"]["dependency"] == "database"
    assert body["report"]["request-id"] == response.headers["x-request-id"]


async def test_a_database_outage_is_503_then_service_resumes_without_partial_writes(
    api: Api, client: httpx.AsyncClient, database: tuple[str, Path, Outage]
) -> None:
    _, _, (take_away, bring_back) = database
    campaign_id = await ht_campaign(api)
    headers = api.tenant.headers()
    await take_away()

    lost = {"name": "lost", "relays": [{"host": "127.0.0.1", "port": 2525}]}
    started = time.monotonic()
    refused = await client.post("/v1/ip-pools", json=lost, headers=headers)
    answered_in = time.monotonic() - started
    print(f"a write answered 503 in {answered_in * 1000:.0f} ms while the database was away")
    assert_aep_503(refused)
    assert answered_in < 5, "an outage must be answered promptly, not after the client gave up"
    assert_aep_503(await client.get("/v1/campaigns", headers=headers))
    hot = await client.post(HT, json=trigger_body(campaign_id), headers=headers)
    assert hot.status_code == 503, hot.text
    assert hot.headers["Retry-After"] == "5"
    assert hot.json()["report"]["additionalContext"]["requestId"] == hot.headers["x-request-id"]
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["components"]["database"] == {"status": "DOWN"}

    await bring_back()
    names = iter(f"pool-{n}" for n in range(1_000_000))
    created, recovered_in = await eventually(
        lambda: client.post(
            "/v1/ip-pools",
            json={"name": next(names), "relays": [{"host": "127.0.0.1", "port": 2525}]},
            headers=headers,
        ),
        lambda response: response.status_code == 201,
    )
    print(f"database writes answered 201 again {recovered_in:.2f} s after the database was back")
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.post(HT, json=trigger_body(campaign_id), headers=headers)).status_code == 202
    pools = (await client.get("/v1/ip-pools", headers=headers)).json()["items"]
    # Only the pool made before the outage and the one acknowledged after it exist: no 503 wrote anything.
    assert sorted(pool["name"] for pool in pools) == sorted(["htpool", created.json()["name"]])
