"""Channel configurations: per-channel settings, dedicated high-throughput pools, sender personalization."""

from __future__ import annotations

from tests.campaigns.conftest import Api, ApiFactory


def detail(response: object) -> str:
    return str(response.json()["report"]["detailed-message"])  # type: ignore[attr-defined]


async def test_email_configuration_round_trip(api: Api) -> None:
    pool = await api.pool()
    created = await api.configuration(
        pool["id"], headers={"X-Campaign": "welcome"}, replyTo="help@shop.example"
    )
    assert created["email"]["fromAddress"] == "news@shop.example"
    assert created["email"]["headers"] == {"X-Campaign": "welcome"}
    assert created["highThroughput"] is False
    listed = await api.call("GET", "/v1/channel-configurations", expect=200)
    assert listed.json()["total"] == 1


async def test_settings_block_must_match_channel(api: Api) -> None:
    pool = await api.pool()
    email = {"fromAddress": "a@b.example", "ipPoolId": pool["id"]}
    response = await api.call("POST", "/v1/channel-configurations", {"name": "c", "channel": "email"})
    assert response.status_code == 400
    assert "email: settings are required" in detail(response)
    sms = {"baseUrl": "http://127.0.0.1:1", "accountSid": "AC1", "authToken": "t", "fromNumber": "+1555"}
    response = await api.call(
        "POST", "/v1/channel-configurations", {"name": "c", "channel": "email", "email": email, "sms": sms}
    )
    assert response.status_code == 400
    assert "sms: not allowed" in detail(response)


async def test_unknown_pool(api: Api) -> None:
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {"name": "c", "channel": "email", "email": {"fromAddress": "a@b.example", "ipPoolId": "nope"}},
    )
    assert response.status_code == 400
    assert "email.ipPoolId: IP pool 'nope' does not exist" in detail(response)


async def test_high_throughput_is_email_only_and_needs_entitlement(api: Api, make_api: ApiFactory) -> None:
    sms = {"baseUrl": "http://127.0.0.1:1", "accountSid": "AC1", "authToken": "t", "fromNumber": "+1555"}
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {"name": "c", "channel": "sms", "highThroughput": True, "sms": sms},
    )
    assert response.status_code == 400
    assert "only email configurations can be high throughput" in detail(response)
    plain = await make_api(high_throughput=False)
    pool = await plain.pool()
    response = await plain.call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": "c",
            "channel": "email",
            "highThroughput": True,
            "email": {"fromAddress": "a@b.example", "ipPoolId": pool["id"]},
        },
    )
    assert response.status_code == 400
    assert "entitlement" in detail(response)


async def test_high_throughput_sender_fields_cannot_be_personalized(api: Api) -> None:
    pool = await api.pool()
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": "ht",
            "channel": "email",
            "highThroughput": True,
            "email": {
                "fromAddress": "news@shop.example",
                "fromName": "{{context.brand}}",
                "ipPoolId": pool["id"],
            },
        },
    )
    assert response.status_code == 400
    assert "email.fromName: personalization is not allowed" in detail(response)


async def test_standard_sender_personalization_must_parse(api: Api) -> None:
    pool = await api.pool()
    ok = await api.configuration(pool["id"], fromName="{{profile.person.name.firstName}} at Shop")
    assert ok["email"]["fromName"].startswith("{{profile")
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": "bad",
            "channel": "email",
            "email": {"fromAddress": "news@shop.example", "fromName": "{{#if x}}", "ipPoolId": pool["id"]},
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert "email.fromName: template does not parse" in body["report"]["detailed-message"]
    assert body["report"]["line"] == 1


async def test_pools_are_dedicated_to_one_mode(api: Api) -> None:
    pool = await api.pool()
    await api.configuration(pool["id"], name="ht", high_throughput=True)
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {"name": "std", "channel": "email", "email": {"fromAddress": "a@b.example", "ipPoolId": pool["id"]}},
    )
    assert response.status_code == 400
    assert "dedicated to high-throughput configurations" in detail(response)
    other = await api.pool("pool2")
    await api.configuration(other["id"], name="std2")
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": "ht2",
            "channel": "email",
            "highThroughput": True,
            "email": {"fromAddress": "a@b.example", "ipPoolId": other["id"]},
        },
    )
    assert response.status_code == 400
    assert "dedicated to standard configurations" in detail(response)


async def test_provider_secret_is_write_only(api: Api) -> None:
    sms = {
        "baseUrl": "http://127.0.0.1:1",
        "accountSid": "AC1",
        "authToken": "tok-123",
        "fromNumber": "+1555",
    }
    created = (
        await api.call(
            "POST", "/v1/channel-configurations", {"name": "sms1", "channel": "sms", "sms": sms}, expect=201
        )
    ).json()
    assert created["sms"]["hasAuthToken"] is True
    assert "tok-123" not in str(created)
    without_token = {key: value for key, value in sms.items() if key != "authToken"}
    updated = await api.call(
        "PUT",
        f"/v1/channel-configurations/{created['id']}",
        {"name": "sms1", "channel": "sms", "sms": without_token},
        expect=200,
    )
    assert updated.json()["sms"]["hasAuthToken"] is True
    response = await api.call(
        "POST", "/v1/channel-configurations", {"name": "sms2", "channel": "sms", "sms": without_token}
    )
    assert response.status_code == 400
    assert "sms.authToken: required" in detail(response)


async def test_configuration_in_use_cannot_be_deleted(api: Api) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    await api.campaign(configuration["id"])
    response = await api.call("DELETE", f"/v1/channel-configurations/{configuration['id']}")
    assert response.status_code == 409
    assert "Order confirmation" in detail(response)
