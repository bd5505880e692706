"""Outbound tests: the runtime end to end (events API, worker, dispatcher, an HTTP target), ledger rows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from clarion.config import Settings
from clarion.kit.ids import new_reference
from tests.builders import Api
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer

THROTTLING = "/journey/orchestration/throttlingConfigs"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Custom actions may target the test server's ephemeral port."""
    return settings.model_copy(update={"custom_action_any_port": True})


@dataclass
class Target:
    """The HTTP server calls are sent to; it records each call's ``seq`` and arrival time."""

    server: HttpServer
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    status: int = 200
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def seqs(self) -> list[int]:
        """The ``seq`` of every call, in arrival order."""
        return [seq for seq, _ in self.arrivals]


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    async def answer(request: HttpRequest) -> HttpResponse:
        found.arrivals.append((json.loads(request.body)["seq"], time.monotonic()))
        if found.expected and len(found.arrivals) >= found.expected:
            found.arrived.set()
        return HttpResponse(found.status, b'{"ok": true}')

    found = Target(HttpServer(answer))
    async with found.server:
        yield found
    assert found.server.errors == []


async def make_action(
    api: Api, target: Target, *, name: str = "notify", method: str = "POST"
) -> dict[str, Any]:
    """A custom action POSTing ``{"seq": …}`` to the target."""
    body = {
        "name": name,
        "url": f"{target.server.url}/hook",
        "method": method,
        "body": '{"seq": {{context.seq}}}',
        "timeoutSeconds": 5,
    }
    response = await api.call("POST", "/v1/custom-actions", body, expect=201)
    created: dict[str, Any] = response.json()
    return created


async def deploy_throttle(api: Api, target: Target, rate: int) -> str:
    """Create and deploy the organization's throttling configuration for the target; its uid."""
    body = {"name": "t", "urlPattern": f"{target.server.url}/*", "methods": ["POST"], "maxThroughput": rate}
    created = await api.call("POST", THROTTLING, body, expect=200)
    uid: str = created.json()["uid"]
    await api.call("POST", f"{THROTTLING}/{uid}/deploy", expect=204)
    return uid


async def fire(api: Api, action: str, seqs: range | list[int]) -> list[dict[str, Any]]:
    """POST the events (batches of 1,000); the accepted calls."""
    calls: list[dict[str, Any]] = []
    seq_list = list(seqs)
    for start in range(0, len(seq_list), 1000):
        events = [{"action": action, "context": {"seq": seq}} for seq in seq_list[start : start + 1000]]
        response = await api.call("POST", "/v1/events", {"events": events}, expect=202)
        calls.extend(response.json()["calls"])
    return calls


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 20.0) -> None:
    """Wait until ``check()`` holds (polling an observable state), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


async def calls_in(api: Api, status: str) -> list[dict[str, Any]]:
    """Every ledger row in ``status`` (all pages)."""
    found: list[dict[str, Any]] = []
    while True:
        path = f"/v1/action-calls?status={status}&limit=500&offset={len(found)}"
        page = (await api.call("GET", path, expect=200)).json()
        found.extend(page["items"])
        if not page["items"] or len(found) >= page["total"]:
            return found


def call_row(
    org_id: str,
    sandbox: str,
    *,
    action_id: str = "action-1",
    status: str = "queued",
    accepted_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The fields of a complete ``CallRecord`` (an ``action_calls`` row), as the runtime writes them."""
    moment = accepted_at or datetime.now(UTC)
    row: dict[str, Any] = {
        "id": new_reference(),
        "org_id": org_id,
        "sandbox_id": sandbox,
        "action_id": action_id,
        "action_name": "notify_crm",
        "status": status,
        "attempts": 0,
        "response_status": None,
        "response": "",
        "latency_ms": None,
        "throttle_config_uid": None,
        "accepted_at": moment,
        "updated_at": moment,
        "sent_at": None,
        "request_id": None,
    }
    return {**row, **fields}


__all__ = [
    "THROTTLING",
    "Target",
    "call_row",
    "calls_in",
    "deploy_throttle",
    "eventually",
    "fire",
    "make_action",
]
