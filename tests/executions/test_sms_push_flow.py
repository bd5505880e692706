"""SMS and push campaigns end to end, against local servers speaking Twilio's and FCM v1's formats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from clarion.runtime import BackgroundServices
from tests.builders import Api
from tests.delivery.servers import FcmServer, TwilioServer
from tests.executions.test_delivery_flow import final

UNITARY = "/ajo/im/executions/unitary"


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioServer]:
    server = TwilioServer()
    async with server.http:
        yield server


@pytest.fixture
async def fcm() -> AsyncIterator[FcmServer]:
    server = FcmServer()
    async with server.http:
        yield server


async def live_campaign(api: Api, channel: str, settings: dict[str, Any], content: dict[str, Any]) -> str:
    configuration = (
        await api.call(
            "POST",
            "/v1/channel-configurations",
            {"name": f"{channel}1", "channel": channel, channel: settings},
            expect=201,
        )
    ).json()
    campaign = (
        await api.call(
            "POST",
            "/v1/campaigns",
            {
                "name": f"{channel} campaign",
                "channel": channel,
                "channelConfigurationId": configuration["id"],
                "content": {channel: content},
            },
            expect=201,
        )
    ).json()
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return str(campaign["id"])


async def trigger(api: Api, campaign: str, recipient: dict[str, Any]) -> str:
    body = {"requestId": "r", "campaignId": campaign, "recipients": [recipient]}
    response = await api.client.post(UNITARY, json=body, headers=api.tenant.headers())
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])


async def test_sms_campaign(api: Api, twilio: TwilioServer, worker: BackgroundServices) -> None:
    settings = {
        "baseUrl": twilio.http.url,
        "accountSid": twilio.account_sid,
        "authToken": twilio.auth_token,
        "fromNumber": "+15550001111",
    }
    campaign = await live_campaign(api, "sms", settings, {"body": "Code {{context.code}}"})
    execution = await trigger(
        api,
        campaign,
        {"type": "external", "userId": "+15557654321", "namespace": "phone", "context": {"code": "4711"}},
    )
    row = (await final(api, execution))[0]
    assert row["status"] == "sent"
    assert row["recipient"] == "+15557654321"
    form = twilio.http.requests[-1].form()
    assert form["Body"] == ["Code 4711"]
    assert form["From"] == ["+15550001111"]
    bad = await trigger(api, campaign, {"type": "external", "userId": "not-a-number", "namespace": "phone"})
    failed = (await final(api, bad))[0]
    assert failed["status"] == "failed"
    assert "21211" in failed["response"]


async def test_push_campaign(api: Api, fcm: FcmServer, worker: BackgroundServices) -> None:
    token = "device-token-0123456789"
    fcm.registered.add(token)
    settings = {"baseUrl": fcm.http.url, "projectId": fcm.project_id, "accessToken": fcm.access_token}
    campaign = await live_campaign(
        api,
        "push",
        settings,
        {
            "title": "Hi {{context.name}}",
            "body": "Your order shipped",
            "data": {"orderId": "{{context.order}}"},
        },
    )
    execution = await trigger(
        api,
        campaign,
        {
            "type": "external",
            "userId": "u1",
            "namespace": "ECID",
            "channelData": {"pushInfo": {"token": token}},
            "context": {"name": "Ada", "order": "A-9"},
        },
    )
    row = (await final(api, execution))[0]
    assert row["status"] == "sent"
    message = fcm.http.requests[-1].json()["message"]
    assert message["token"] == token
    assert message["notification"] == {"title": "Hi Ada", "body": "Your order shipped"}
    assert message["data"] == {"orderId": "A-9"}
