"""Campaigns: validation at save and activation, high-throughput rules, lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.campaigns.conftest import Api, ApiFactory


def detail(response: object) -> str:
    return str(response.json()["report"]["detailed-message"])  # type: ignore[attr-defined]


async def setup(api: Api, *, high_throughput: bool = False) -> str:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"], high_throughput=high_throughput)
    return str(configuration["id"])


async def test_create_is_draft(api: Api) -> None:
    created = await api.campaign(await setup(api))
    assert created["status"] == "Draft"
    assert created["version"] == 1
    assert created["content"]["email"]["subject"] == "Order {{context.order.id}}"
    fetched = await api.call("GET", f"/v1/campaigns/{created['id']}", expect=200)
    assert fetched.json() == created


async def test_template_syntax_error_names_line_and_column(api: Api) -> None:
    body = api.campaign_body(await setup(api))
    body["content"]["email"]["html"] = "<p>Hello</p>\n<ul>{{#each context.items}}<li>{{this}}</li>\n</ul>"
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    report = response.json()["report"]
    assert report["detailed-message"].startswith("content.email.html: template does not parse")
    assert (report["line"], report["column"]) == (2, 5)


async def test_high_throughput_refuses_profile_expressions(api: Api) -> None:
    body = api.campaign_body(await setup(api, high_throughput=True), high_throughput=True)
    body["content"]["email"]["html"] = "<p>Hi\n  {{profile.person.name.firstName}}</p>"
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    report = response.json()["report"]
    assert report["expression"] == "profile.person.name.firstName"
    assert (
        "content.email.html: {{profile.person.name.firstName}} at line 2, column 5"
        in report["detailed-message"]
    )


async def test_standard_campaign_may_use_profile(api: Api) -> None:
    body = api.campaign_body(await setup(api))
    body["content"]["email"]["subject"] = "Hi {{profile.person.name.firstName}}"
    await api.call("POST", "/v1/campaigns", body, expect=201)


@pytest.mark.parametrize(
    ("campaign_ht", "configuration_ht", "message"),
    [
        (True, False, "a high-throughput campaign needs a high-throughput channel configuration"),
        (False, True, "a standard campaign needs a standard channel configuration"),
    ],
)
async def test_mode_must_match_configuration(
    api: Api, campaign_ht: bool, configuration_ht: bool, message: str
) -> None:
    body = api.campaign_body(await setup(api, high_throughput=configuration_ht), high_throughput=campaign_ht)
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert message in detail(response)


async def test_high_throughput_needs_entitlement(make_api: ApiFactory) -> None:
    api = await make_api(high_throughput=False)
    body = api.campaign_body(await setup(api), high_throughput=True)
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "high-throughput entitlement" in detail(response)


async def test_high_throughput_is_email_only(api: Api) -> None:
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
        "highThroughputMode": True,
        "content": {"sms": {"body": "hi"}},
    }
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "only email campaigns can be high throughput" in detail(response)


async def test_channel_must_match_configuration_and_content(api: Api) -> None:
    configuration_id = await setup(api)
    body: dict[str, Any] = {
        "name": "x",
        "channel": "sms",
        "channelConfigurationId": configuration_id,
        "content": {"sms": {"body": "hi"}},
    }
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "is for email, the campaign is sms" in detail(response)
    body = {
        "name": "x",
        "channel": "email",
        "channelConfigurationId": configuration_id,
        "content": {"sms": {"body": "hi"}},
    }
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "content.email: required" in detail(response)


async def test_schedule_rules(api: Api) -> None:
    configuration_id = await setup(api)
    start = datetime.now(UTC) + timedelta(days=2)
    body = api.campaign_body(
        configuration_id,
        schedule={"startDate": start.isoformat(), "endDate": (start - timedelta(days=1)).isoformat()},
    )
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "schedule.endDate: must be after schedule.startDate" in detail(response)


async def test_lifecycle(api: Api) -> None:
    campaign = await api.campaign(await setup(api))
    path = f"/v1/campaigns/{campaign['id']}"
    edited = await api.call(
        "PUT", path, api.campaign_body(campaign["channelConfigurationId"], name="v2"), expect=200
    )
    assert edited.json()["version"] == 2
    live = await api.call("POST", f"{path}/activate", expect=200)
    assert live.json()["status"] == "Live"
    assert live.json()["activatedAt"] is not None
    for method, suffix in [("PUT", ""), ("DELETE", ""), ("POST", "/activate")]:
        body = api.campaign_body(campaign["channelConfigurationId"]) if method == "PUT" else None
        response = await api.call(method, f"{path}{suffix}", body)
        assert response.status_code == 409, (method, suffix)
        assert "is Live" in detail(response)
    stopped = await api.call("POST", f"{path}/stop", expect=200)
    assert stopped.json()["status"] == "Stopped"
    response = await api.call("POST", f"{path}/activate")
    assert response.status_code == 409
    assert "is Stopped" in detail(response)


async def test_future_start_is_scheduled_and_past_end_refused(api: Api) -> None:
    configuration_id = await setup(api)
    start = datetime.now(UTC) + timedelta(days=1)
    scheduled = await api.campaign(configuration_id, schedule={"startDate": start.isoformat()})
    response = await api.call("POST", f"/v1/campaigns/{scheduled['id']}/activate", expect=200)
    assert response.json()["status"] == "Scheduled"
    ended = await api.campaign(configuration_id, schedule={"endDate": "2020-01-01T00:00:00Z"})
    response = await api.call("POST", f"/v1/campaigns/{ended['id']}/activate")
    assert response.status_code == 400
    assert "schedule.endDate: lies in the past" in detail(response)


async def test_only_draft_is_deleted(api: Api) -> None:
    campaign = await api.campaign(await setup(api))
    await api.call("DELETE", f"/v1/campaigns/{campaign['id']}", expect=204)
    await api.call("GET", f"/v1/campaigns/{campaign['id']}", expect=404)


async def test_list_filters(api: Api) -> None:
    configuration_id = await setup(api)
    first = await api.campaign(configuration_id, name="Welcome mail")
    await api.campaign(configuration_id, name="Receipt")
    await api.call("POST", f"/v1/campaigns/{first['id']}/activate", expect=200)
    live = (await api.call("GET", "/v1/campaigns?status=Live", expect=200)).json()
    assert [item["name"] for item in live["items"]] == ["Welcome mail"]
    named = (await api.call("GET", "/v1/campaigns?name=ceip", expect=200)).json()
    assert [item["name"] for item in named["items"]] == ["Receipt"]


async def test_webhooks_need_a_url(api: Api) -> None:
    body = api.campaign_body(await setup(api), enableWebhooks=True)
    response = await api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert "webhookUrl: required" in detail(response)
