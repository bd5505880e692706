"""The shared client's throttling transport: SMS, push and webhook calls paced by the org's configuration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from clarion.config import Settings
from clarion.container import Container
from clarion.delivery.service import QUEUE, WEBHOOK_TASK
from clarion.outbound.queues import slot_key, throttle_limit
from clarion.outbound.transport import Throttled, calls_for
from clarion.queue.port import JobSpec
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.builders import Api
from tests.conftest import TenantFactory
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer, TwilioServer
from tests.executions.test_delivery_flow import final
from tests.executions.test_sms_push_flow import UNITARY, live_campaign
from tests.outbound.conftest import Target, deploy_throttle, eventually

MAX_WAIT = 1.0
RATE = 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A call waits at most a second for its slot (10 s by default)."""
    return settings.model_copy(update={"http_throttle_max_wait_seconds": MAX_WAIT})


@dataclass
class Hook:
    """An HTTP endpoint that records when each request arrived."""

    server: HttpServer
    arrivals: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"{self.server.url}/hook"


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    async def answer(request: HttpRequest) -> HttpResponse:
        found.arrivals.append(time.monotonic())
        return HttpResponse(204)

    found = Hook(HttpServer(answer))
    async with found.server:
        yield found
    assert found.server.errors == []


class TimedTwilio(TwilioServer):
    """The Twilio-format SMS API, recording when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        self.arrivals.append(time.monotonic())
        return await super()._handle(request)


@pytest.fixture
async def twilio() -> AsyncIterator[TimedTwilio]:
    server = TimedTwilio()
    async with server.http:
        yield server
    assert server.http.errors == []


async def book_ahead(services: Services, org_id: str, url: str, seconds: float) -> float:
    """Take the slots of the configuration covering ``url`` for the next ``seconds``, as a backlog of other
    calls would; the monotonic time before which no further slot starts."""
    rule = await services.rules.throttle_for(org_id, "POST", url)
    assert rule is not None
    started = time.monotonic()
    limit = throttle_limit(rule)
    cost = round(seconds * limit.rate)
    limiter = services.container.limiter
    decision = await limiter.reserve(slot_key(rule.config_uid), limit, cost=cost, max_wait=60)
    assert decision.allowed
    return started + cost / limit.rate


async def test_calls_for_an_organization_are_paced_at_its_configured_rate(
    api: Api, hook: Hook, services: Services
) -> None:
    await deploy_throttle(api, Target(hook.server), rate=RATE)
    with calls_for(api.tenant.org_id):
        answers = await asyncio.gather(*(services.http.post(hook.url, content=b"x") for _ in range(60)))
    assert {answer.status_code for answer in answers} == {204}
    span = max(hook.arrivals) - min(hook.arrivals)
    # 60 calls take 59 slots 5 ms apart (0.295 s), less the first call's extra connection set-up time;
    # unpaced they all arrive within a few tens of milliseconds.
    assert span >= 59 / RATE - 0.05


async def test_calls_outside_the_organization_or_its_configuration_are_not_paced(
    api: Api, hook: Hook, services: Services, make_tenant: TenantFactory
) -> None:
    await deploy_throttle(api, Target(hook.server), rate=RATE)
    await book_ahead(services, api.tenant.org_id, hook.url, 5.0)  # a paced call would raise Throttled
    other = await make_tenant()
    assert (await services.http.post(hook.url, content=b"no org")).status_code == 204
    with calls_for(other.org_id):
        assert (await services.http.post(hook.url, content=b"another org")).status_code == 204
    with calls_for(api.tenant.org_id):
        assert (await services.http.get(hook.url)).status_code == 204  # the configuration is POST only
        with calls_for(None):
            assert (await services.http.post(hook.url, content=b"none")).status_code == 204
        with pytest.raises(Throttled):
            await services.http.post(hook.url, content=b"paced")
    assert len(hook.arrivals) == 4


async def test_a_call_whose_slot_is_too_far_away_raises_throttled_unsent(
    api: Api, hook: Hook, services: Services
) -> None:
    await deploy_throttle(api, Target(hook.server), rate=RATE)
    free_at = await book_ahead(services, api.tenant.org_id, hook.url, 0.5)
    with calls_for(api.tenant.org_id):
        # The request's pool timeout (the time it may wait for its turn) lowers the bound...
        with pytest.raises(Throttled) as raised:
            await services.http.post(hook.url, content=b"x", timeout=httpx.Timeout(5.0, pool=0.1))
        assert isinstance(raised.value, httpx.TransportError)  # what delivery retries later
        assert hook.arrivals == []
        # ... the transport's own bound (1 s here) allows the wait: the call goes out at its slot.
        assert (await services.http.post(hook.url, content=b"x")).status_code == 204
        assert hook.arrivals[0] >= free_at - 0.01
        await book_ahead(services, api.tenant.org_id, hook.url, 2 * MAX_WAIT)
        with pytest.raises(Throttled, match="more than 1 s away"):
            await services.http.post(hook.url, content=b"x")
    assert len(hook.arrivals) == 1


async def test_sms_to_a_throttled_provider_are_paced_and_delivered(
    api: Api, twilio: TimedTwilio, worker: BackgroundServices
) -> None:
    await deploy_throttle(api, Target(twilio.http), rate=RATE)
    campaign = await sms_campaign(api, twilio)
    executions = [await trigger(api, campaign, range(start, start + 20)) for start in (0, 20, 40)]
    for execution in executions:
        rows = await final(api, execution, count=20)
        assert {row["status"] for row in rows} == {"sent"}
    assert len(twilio.sids) == 60
    assert max(twilio.arrivals) - min(twilio.arrivals) >= 59 / RATE - 0.05


async def test_sms_whose_slot_is_too_far_away_is_retried_later_and_delivered(
    api: Api, twilio: TimedTwilio, worker: BackgroundServices, services: Services
) -> None:
    await deploy_throttle(api, Target(twilio.http), rate=RATE)
    campaign = await sms_campaign(api, twilio)
    url = f"{twilio.http.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    free_at = await book_ahead(services, api.tenant.org_id, url, 1.5 * MAX_WAIT)
    execution = await trigger(api, campaign, [0])
    row = (await final(api, execution))[0]
    assert row["status"] == "sent"
    assert row["attempts"] >= 2  # the first try was throttled, a queued retry sent it
    assert len(twilio.arrivals) == 1
    assert twilio.arrivals[0] >= free_at - 0.01


async def test_queued_webhook_retries_are_paced_for_their_organization(
    api: Api, hook: Hook, worker: BackgroundServices, container: Container, services: Services
) -> None:
    await deploy_throttle(api, Target(hook.server), rate=RATE)
    free_at = await book_ahead(services, api.tenant.org_id, hook.url, 0.5)
    payload = {"url": hook.url, "event": {"eventType": "message.sent"}, "org": api.tenant.org_id}
    await container.queue.enqueue([JobSpec(WEBHOOK_TASK, payload, queue=QUEUE)])

    async def delivered() -> bool:
        return len(hook.arrivals) == 1

    await eventually(delivered)
    assert hook.arrivals[0] >= free_at - 0.01


async def sms_campaign(api: Api, twilio: TwilioServer) -> str:
    """A live SMS campaign sending through ``twilio``."""
    settings = {
        "baseUrl": twilio.http.url,
        "accountSid": twilio.account_sid,
        "authToken": twilio.auth_token,
        "fromNumber": "+15550001111",
    }
    return await live_campaign(api, "sms", settings, {"body": "Code {{context.code}}"})


async def trigger(api: Api, campaign: str, numbers: range | list[int]) -> str:
    """A unitary execution sending one SMS to each of ``+1555765xxxx``."""
    recipients = [
        {"type": "external", "userId": f"+1555765{n:04d}", "namespace": "phone", "context": {"code": str(n)}}
        for n in numbers
    ]
    body = {"requestId": "r", "campaignId": campaign, "recipients": recipients}
    response = await api.client.post(UNITARY, json=body, headers=api.tenant.headers())
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])
