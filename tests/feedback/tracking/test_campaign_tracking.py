"""Tracking is opted in per email campaign, kept across edits, and reaches the worker's settings."""

from __future__ import annotations

from clarion.campaigns import service as campaigns
from clarion.container import Container
from tests.builders import Api


async def test_tracking_is_off_by_default_and_saved_per_campaign(api: Api, container: Container) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    plain = await api.campaign(configuration["id"])
    assert plain["tracking"] == {"opens": False, "clicks": False}
    tracked = await api.campaign(configuration["id"], category="Marketing", tracking={"clicks": True})
    assert tracked["tracking"] == {"opens": False, "clicks": True}
    body = api.campaign_body(
        configuration["id"], category="Marketing", tracking={"opens": True, "clicks": False}
    )
    replaced = (await api.call("PUT", f"/v1/campaigns/{tracked['id']}", body, expect=200)).json()
    assert replaced["tracking"] == {"opens": True, "clicks": False}
    read = (await api.call("GET", f"/v1/campaigns/{tracked['id']}", expect=200)).json()
    assert read["tracking"] == {"opens": True, "clicks": False}

    async with container.unit_of_work() as uow:
        settings = await campaigns.delivery_settings(
            uow, org_id=api.tenant.org_id, sandbox_id=await sandbox_of(api), campaign_id=tracked["id"]
        )
    assert settings is not None
    assert (settings.category, settings.track_opens, settings.track_clicks) == ("Marketing", True, False)


async def test_tracking_of_another_channel_or_shape_is_a_400_naming_the_field(api: Api) -> None:
    sms = {"baseUrl": "http://127.0.0.1:1", "accountSid": "AC1", "authToken": "t", "fromNumber": "+1555"}
    configuration = (
        await api.call(
            "POST", "/v1/channel-configurations", {"name": "s", "channel": "sms", "sms": sms}, expect=201
        )
    ).json()
    body = {
        "name": "x",
        "channel": "sms",
        "channelConfigurationId": configuration["id"],
        "content": {"sms": {"body": "hi"}},
        "tracking": {"clicks": True},
    }
    response = await api.call("POST", "/v1/campaigns", body, expect=400)
    assert "tracking: only email campaigns are tracked" in response.json()["report"]["detailed-message"]
    body["tracking"] = {"clicks": True, "pixels": True}
    response = await api.call("POST", "/v1/campaigns", body, expect=400)
    assert "tracking.pixels" in response.json()["report"]["detailed-message"]


async def sandbox_of(api: Api) -> str:
    response = await api.call("GET", "/v1/sandboxes/prod", expect=200)
    return str(response.json()["id"])
