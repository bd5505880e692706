"""IP pools: naming rules, write-only passwords, immutable names, no deletion while used."""

from __future__ import annotations

from tests.campaigns.conftest import Api


async def test_create_and_read_never_returns_passwords(api: Api) -> None:
    body = {
        "name": "ht.pool-1",
        "relays": [
            {"host": "relay.example", "port": 587, "tls": "starttls", "username": "u", "password": "s3cret"}
        ],
        "bindAddresses": ["127.0.0.1"],
        "maxConnections": 8,
    }
    created = (await api.call("POST", "/v1/ip-pools", body, expect=201)).json()
    assert created["relays"] == [
        {"host": "relay.example", "port": 587, "tls": "starttls", "username": "u", "hasPassword": True}
    ]
    assert created["bindAddresses"] == ["127.0.0.1"]
    fetched = await api.call("GET", f"/v1/ip-pools/{created['id']}", expect=200)
    assert "s3cret" not in fetched.text
    listed = await api.call("GET", "/v1/ip-pools", expect=200)
    assert [item["name"] for item in listed.json()["items"]] == ["ht.pool-1"]


async def test_password_is_kept_when_omitted_on_update(api: Api) -> None:
    pool = await api.pool(relays=[{"host": "r.example", "username": "u", "password": "pw"}])
    body = {"name": pool["name"], "relays": [{"host": "r.example", "username": "u"}], "description": "new"}
    updated = (await api.call("PUT", f"/v1/ip-pools/{pool['id']}", body, expect=200)).json()
    assert updated["relays"][0]["hasPassword"] is True
    assert updated["description"] == "new"


async def test_name_rules(api: Api) -> None:
    for name in ["1pool", "pool name", "pool/1", ""]:
        response = await api.call("POST", "/v1/ip-pools", {"name": name, "relays": [{"host": "h"}]})
        assert response.status_code == 400, name
        assert response.json()["report"]["field"] == "name"


async def test_duplicate_name_is_409(api: Api) -> None:
    await api.pool("same")
    response = await api.call("POST", "/v1/ip-pools", {"name": "same", "relays": [{"host": "h"}]})
    assert response.status_code == 409
    assert "already exists" in response.json()["report"]["detailed-message"]


async def test_name_cannot_change(api: Api) -> None:
    pool = await api.pool("fixed")
    response = await api.call(
        "PUT", f"/v1/ip-pools/{pool['id']}", {"name": "other", "relays": [{"host": "h"}]}
    )
    assert response.status_code == 400
    assert "cannot be renamed" in response.json()["report"]["detailed-message"]


async def test_bad_bind_address_and_empty_relays(api: Api) -> None:
    response = await api.call(
        "POST", "/v1/ip-pools", {"name": "p", "relays": [{"host": "h"}], "bindAddresses": ["not-an-ip"]}
    )
    assert response.status_code == 400
    assert "not an IP address" in response.json()["report"]["detailed-message"]
    response = await api.call("POST", "/v1/ip-pools", {"name": "p", "relays": []})
    assert response.status_code == 400
    assert response.json()["report"]["field"] == "relays"


async def test_pool_in_use_cannot_be_deleted(api: Api) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    response = await api.call("DELETE", f"/v1/ip-pools/{pool['id']}")
    assert response.status_code == 409
    assert "email1" in response.json()["report"]["detailed-message"]
    await api.call("DELETE", f"/v1/channel-configurations/{configuration['id']}", expect=204)
    await api.call("DELETE", f"/v1/ip-pools/{pool['id']}", expect=204)
    await api.call("GET", f"/v1/ip-pools/{pool['id']}", expect=404)
