"""Monthly message quotas per mode: counting at acceptance, the 429 naming the quota, soft mode, the month
boundary, audience executions, and the overshoot bound across two API processes sharing the database."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from clarion.app import create_app
from clarion.config import Settings
from clarion.container import Container
from clarion.executions.service import HIGH_THROUGHPUT, Executions
from clarion.ops.metrics import Metrics
from clarion.runtime import BackgroundServices
from clarion.services import Services
from clarion.tenancy import service as tenancy
from clarion.tenancy.principal import Role
from clarion.usage import service as usage
from clarion.usage.errors import QuotaExhausted
from clarion.usage.meter import UsageMeter
from clarion.usage.service import seconds_until_reset
from tests.builders import Tenant
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import eventually

HT = "/ajo/im/executions/highthroughput"
UNITARY = "/ajo/im/executions/unitary"
AUDIENCE = "/ajo/im/executions/audience"


async def set_quotas(
    container: Container, tenant: Tenant, *, standard: int = 0, ht: int = 0, mode: str = "hard"
) -> None:
    async with container.unit_of_work() as uow:
        org = await tenancy.find_organization(uow, tenant.ims_org_id)
        change = tenancy.QuotaChange(standard=standard, high_throughput=ht, mode=mode)
        await tenancy.update_entitlements(uow, org, quotas=change)


def external(count: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [
        {"type": "external", "userId": f"{prefix}{i}@example.com", "namespace": "email"} for i in range(count)
    ]


async def send(
    live: Live, count: int, *, path: str = HT, client: httpx.AsyncClient | None = None, prefix: str = "r"
) -> httpx.Response:
    campaign = live.ht_campaign if path == HT else live.std_campaign
    recipients = external(count, prefix)
    if path == UNITARY:
        recipients = [{**r, "type": "aep"} for r in recipients]
    return await (client or live.api.client).post(
        path, json=live.body(campaign=campaign, recipients=recipients), headers=live.api.tenant.headers()
    )


async def usage_report(live: Live, services: Services, query: str = "") -> dict[str, Any]:
    await services.usage.flush()  # the counts of the last ``usage_flush_seconds``, written now
    response = await live.api.call("GET", f"/v1/usage{query}", expect=200)
    return response.json()  # type: ignore[no-any-return]


async def test_accepted_messages_are_counted_per_mode_and_day(live: Live, services: Services) -> None:
    for count in (2, 3):
        assert (await send(live, count)).status_code == 202
    assert (await send(live, 1, path=UNITARY)).status_code == 202
    # A refused request (bad body) counts nothing.
    assert (await send(live, 0)).status_code == 400

    report = await usage_report(live, services)
    today = datetime.now(UTC).date()
    assert report["orgId"] == live.api.tenant.ims_org_id
    assert report["currentMonth"]["highThroughput"] == {
        "used": 5,
        "quota": None,
        "remaining": None,
        "overQuota": 0,
    }
    assert report["currentMonth"]["standard"]["used"] == 1
    assert report["days"] == [{"period": today.isoformat(), "standard": 1, "highThroughput": 5}]
    assert report["months"] == [{"period": today.isoformat()[:7], "standard": 1, "highThroughput": 5}]
    assert report["from"] == report["to"] == today.isoformat()[:7]


async def test_spent_quota_is_a_429_naming_it_with_retry_after(
    live: Live, container: Container, services: Services
) -> None:
    await set_quotas(container, live.api.tenant, ht=3)
    organization = (await live.api.call("GET", "/v1/organization", expect=200)).json()
    assert (organization["highThroughputMonthlyQuota"], organization["standardMonthlyQuota"]) == (3, 0)
    assert organization["quotaMode"] == "hard"
    assert (await send(live, 2)).status_code == 202
    refused = await send(live, 2)
    now = datetime.now(UTC)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["type"].endswith("MSG-000430-429")
    assert body["status"] == 429
    context = body["report"]["additionalContext"]
    assert context["quota"] == "high-throughput monthly messages"
    assert (context["limit"], context["used"], context["remaining"], context["requested"]) == (
        "3",
        "2",
        "1",
        "2",
    )
    assert "monthly high-throughput message quota of 3 is spent" in context["message"]
    expected = seconds_until_reset(now)
    assert abs(int(refused.headers["Retry-After"]) - expected) <= 5
    next_month = (now.replace(day=1) + timedelta(days=32)).strftime("%Y-%m-01T00:00:00")
    assert context["resetsAt"].startswith(next_month)

    # What is left can still be used, exactly; standard mode has its own (unlimited) volume.
    assert (await send(live, 1)).status_code == 202
    assert (await send(live, 1)).status_code == 429
    assert (await send(live, 1, path=UNITARY)).status_code == 202
    report = await usage_report(live, services)
    assert report["currentMonth"]["highThroughput"] == {"used": 3, "quota": 3, "remaining": 0, "overQuota": 0}
    assert report["currentMonth"]["standard"]["used"] == 1


async def test_standard_quota_refuses_before_any_profile_is_created(live: Live, container: Container) -> None:
    await set_quotas(container, live.api.tenant, standard=1)
    refused = await send(live, 2, path=UNITARY, prefix="nobody")
    assert refused.status_code == 429
    assert refused.json()["report"]["additionalContext"]["quota"] == "standard monthly messages"
    profile = await live.api.call("GET", "/v1/profiles/email/nobody0@example.com")
    assert profile.status_code == 404


async def test_soft_mode_accepts_flags_and_reports_the_overage(
    live: Live, container: Container, services: Services
) -> None:
    await set_quotas(container, live.api.tenant, ht=2, mode="soft")
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert (await send(live, 2)).status_code == 202
    flagged = [entry for entry in logs if entry["event"] == "quota.exceeded"]
    assert len(flagged) == 1, logs  # once per process, organization, month and mode
    assert flagged[0]["org"] == live.api.tenant.ims_org_id
    assert (flagged[0]["quota"], flagged[0]["used"], flagged[0]["quota_mode"]) == (2, 4, "soft")

    report = await usage_report(live, services)  # flushes: the gauges read the database too
    assert report["quotaMode"] == "soft"
    assert report["currentMonth"]["highThroughput"] == {"used": 6, "quota": 2, "remaining": 0, "overQuota": 4}
    metrics = (await live.api.client.get("/metrics")).text
    org = live.api.tenant.ims_org_id
    assert f'clarion_messages_used{{mode="high-throughput",org="{org}"}} 6.0' in metrics
    assert f'clarion_messages_quota{{mode="high-throughput",org="{org}"}} 2.0' in metrics
    assert f'clarion_messages_over_quota{{mode="high-throughput",org="{org}"}} 4.0' in metrics
    assert f'clarion_messages_used{{mode="standard",org="{org}"}} 0.0' in metrics
    assert f'clarion_messages_quota{{mode="standard",org="{org}"}}' not in metrics  # unlimited


async def test_month_boundary_resets_the_quota(live: Live, services: Services, container: Container) -> None:
    await set_quotas(container, live.api.tenant, ht=2)
    clock = FakeClock(datetime(2031, 1, 31, 23, 59, 59, 500_000, tzinfo=UTC))
    executions = Executions(
        container.unit_of_work,
        container.queue,
        container.limiter,
        UsageMeter(container.unit_of_work),
        idempotency_seconds=0,
        clock=clock,
    )
    principal = await services.gateway.authenticate(httpx.Headers(live.api.tenant.headers()), role=Role.USER)

    async def trigger(count: int) -> None:
        body = httpx.Request("POST", "/", json=live.body(recipients=external(count))).content

        async def read() -> bytes:
            return body

        await executions.trigger(principal, read, HIGH_THROUGHPUT, None)

    await trigger(2)
    with pytest.raises(QuotaExhausted) as refused:
        await trigger(1)
    assert refused.value.retry_after == 0.5  # half a second to midnight (the header says 1)
    assert refused.value.context["resetsAt"] == "2031-02-01T00:00:00.000Z"
    clock.now = datetime(2031, 2, 1, 0, 0, 0, 100_000, tzinfo=UTC)
    await trigger(2)
    with pytest.raises(QuotaExhausted):
        await trigger(1)
    await executions.drain()

    async with container.unit_of_work() as uow:
        quotas = usage.quotas_of(principal)
        report = await usage.report(uow, quotas, "2031-01", "2031-02", now=clock.now)
    assert [(m.period, m.highThroughput) for m in report.months] == [("2031-01", 2), ("2031-02", 2)]
    assert [(d.period, d.highThroughput) for d in report.days] == [("2031-01-31", 2), ("2031-02-01", 2)]
    assert report.currentMonth.highThroughput.remaining == 0


class FakeClock:
    """A settable ``utcnow``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_audience_executions_count_their_recipients(
    live: Live, container: Container, worker: BackgroundServices, services: Services
) -> None:
    body = {"campaignId": live.std_campaign, "requestId": "aud-q", "recipients": external(3, "member")}
    accepted = await live.api.client.post(AUDIENCE, json=body, headers=live.api.tenant.headers())
    assert accepted.status_code == 202, accepted.text

    async def counted() -> bool:
        return bool((await usage_report(live, services))["currentMonth"]["standard"]["used"] == 3)

    await eventually(counted)
    await set_quotas(container, live.api.tenant, standard=4)
    refused = await live.api.client.post(AUDIENCE, json=body, headers=live.api.tenant.headers())
    assert refused.status_code == 429, refused.text
    assert refused.json()["report"]["additionalContext"]["remaining"] == "1"


async def test_two_processes_overshoot_at_most_the_refresh_window(
    live: Live, container: Container, settings: Settings, services: Services
) -> None:
    """Two API apps share the database; B sees A's traffic at most a flush and ~2 refreshes late."""
    refresh = 0.3
    flush = settings.usage_flush_seconds
    quota = 10
    await set_quotas(container, live.api.tenant, ht=quota)
    second = create_app(settings.model_copy(update={"usage_refresh_seconds": refresh}))
    async with second.router.lifespan_context(second), client_of(second) as b:
        assert (await send(live, 1, client=b)).status_code == 202  # B now holds a view: 1 used
        await second.state.services.usage.flush()  # (as B's flusher would within ``flush`` seconds)
        for _ in range(quota - 1):  # A (a fresh view) fills the quota
            assert (await send(live, 1)).status_code == 202
        filled = time.monotonic()
        assert (await send(live, 1)).status_code == 429

        accepted_late: list[float] = []

        async def b_refuses() -> bool:
            response = await send(live, 1, client=b)
            if response.status_code == 202:
                accepted_late.append(time.monotonic() - filled)
            return response.status_code == 429

        await eventually(b_refuses, timeout=5)
    # Everything B accepted over the quota, it accepted within the documented window (A's flush, B's
    # refresh, one reload; with room for a loaded machine).
    assert all(delay <= flush + refresh + 0.5 for delay in accepted_late), accepted_late
    report = await usage_report(live, services)
    assert report["currentMonth"]["highThroughput"]["used"] == quota + len(accepted_late)


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://second.test")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?from=2026-13", "from"),
        ("?from=26-01", "from"),
        ("?to=2026-1x", "to"),
        ("?from=2026-05&to=2026-04", "to"),
        ("?from=2025-01&to=2026-02", "to"),
        ("?from=1999-12&to=2000-01", "from"),
        ("?from=2026-01-01", "from"),
        ("?from=9999-12", "from"),
        ("?from=2001-01", "from"),
        ("?to=9999-12", "to"),
        ("?from=", "from"),
        ("?from=%00", "from"),
    ],
)
async def test_usage_range_is_validated(live: Live, query: str, parameter: str) -> None:
    response = await live.api.call("GET", f"/v1/usage{query}")
    assert response.status_code == 400, response.text
    text = response.text
    assert re.search(rf"\b{parameter}\b", text), text


async def test_usage_range_lists_every_month(live: Live, services: Services) -> None:
    report = await usage_report(live, services, "?from=2025-01&to=2026-01")
    assert [m["period"] for m in report["months"]] == [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01"]
    assert report["days"] == []


async def test_audience_fan_out_over_the_quota_fails_the_execution(
    live: Live, container: Container, services: Services
) -> None:
    """A quota spent between submission and fan-out (a scheduled execution's case): nothing is sent."""
    body = {"campaignId": live.std_campaign, "requestId": "aud-late", "recipients": external(3, "late")}
    accepted = await live.api.client.post(AUDIENCE, json=body, headers=live.api.tenant.headers())
    assert accepted.status_code == 202, accepted.text
    await set_quotas(container, live.api.tenant, standard=2)
    background = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await background.start()
    try:
        execution = accepted.json()["executionId"]

        async def failed() -> bool:
            status = await live.api.call("GET", f"{AUDIENCE}/{execution}", expect=200)
            return bool(status.json()["status"] == "Failed")

        await eventually(failed)
    finally:
        await background.stop()
    report = await usage_report(live, services)
    assert report["currentMonth"]["standard"]["used"] == 0


async def test_a_replayed_request_id_counts_once(live: Live, container: Container) -> None:
    await set_quotas(container, live.api.tenant, ht=5)
    body = live.body(campaign=live.ht_campaign, recipients=external(2))
    headers = {**live.api.tenant.headers(), "x-request-id": "order-42-confirmation"}
    for _ in range(3):  # the client retries: one message batch, however many times it asks
        response = await live.api.client.post(HT, json=body, headers=headers)
        assert response.status_code == 202, response.text
    # Counted once (2 of 5): three more messages still fit, a sixth does not.
    assert (await send(live, 3)).status_code == 202
    refused = await send(live, 1)
    assert refused.status_code == 429, refused.text
    assert refused.json()["report"]["additionalContext"]["used"] == "5"
