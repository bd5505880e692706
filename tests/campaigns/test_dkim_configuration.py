"""DKIM keys on an email channel configuration: checked at save (a 400 naming the field), sealed, write-only,
kept when an update omits them, and shown as the DNS record to publish."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from clarion.kit import dkim
from tests.campaigns.conftest import Api

ED = dkim.generate("ed25519-sha256")
RSA = dkim.generate("rsa-sha256", 2048)
ED_SEED = base64.b64encode(
    ED.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
).decode()
RSA_PKCS1 = RSA.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
).decode()


def ed_entry(**fields: Any) -> dict[str, Any]:
    return {
        "domain": "shop.example",
        "selector": "ed1",
        "algorithm": "ed25519-sha256",
        "privateKey": ED_SEED,
    } | fields


def rsa_entry(**fields: Any) -> dict[str, Any]:
    return {
        "domain": "shop.example",
        "selector": "rsa1",
        "algorithm": "rsa-sha256",
        "privateKey": RSA_PKCS1,
    } | fields


def body(pool_id: str, dkim_keys: list[dict[str, Any]], **email: Any) -> dict[str, Any]:
    return {
        "name": "signed",
        "channel": "email",
        "email": {"fromAddress": "news@mail.shop.example", "ipPoolId": pool_id, "dkim": dkim_keys} | email,
    }


async def refused(api: Api, pool_id: str, keys: list[dict[str, Any]], **email: Any) -> dict[str, Any]:
    response = await api.call("POST", "/v1/channel-configurations", body(pool_id, keys, **email), expect=400)
    report: dict[str, Any] = response.json()["report"]
    return report


async def test_keys_are_sealed_write_only_and_shown_as_dns_records(api: Api) -> None:
    pool = await api.pool()
    created = await api.call(
        "POST", "/v1/channel-configurations", body(pool["id"], [ed_entry(), rsa_entry()]), expect=201
    )
    keys = created.json()["email"]["dkim"]
    assert [key["selector"] for key in keys] == ["ed1", "rsa1"]
    ed_public = dkim.public_key_b64(ED)
    assert keys[0] == {
        "domain": "shop.example",
        "selector": "ed1",
        "algorithm": "ed25519-sha256",
        "headers": None,
        "hasPrivateKey": True,
        "publicKey": ed_public,
        "dnsRecord": {
            "name": "ed1._domainkey.shop.example",
            "type": "TXT",
            "value": f"v=DKIM1; k=ed25519; p={ed_public}",
            "chunks": [f"v=DKIM1; k=ed25519; p={ed_public}"],
        },
    }
    assert keys[1]["dnsRecord"]["value"] == f"v=DKIM1; k=rsa; p={dkim.public_key_b64(RSA)}"
    assert len(keys[1]["dnsRecord"]["chunks"]) == 2
    read = await api.call("GET", f"/v1/channel-configurations/{created.json()['id']}", expect=200)
    text = read.text
    assert "privateKey" not in text
    assert ED_SEED not in text
    assert "BEGIN" not in text


async def test_an_update_without_the_key_keeps_the_stored_one(api: Api) -> None:
    pool = await api.pool()
    created = (
        await api.call("POST", "/v1/channel-configurations", body(pool["id"], [ed_entry()]), expect=201)
    ).json()
    path = f"/v1/channel-configurations/{created['id']}"
    kept = {key: value for key, value in ed_entry().items() if key != "privateKey"}
    updated = (
        await api.call(
            "PUT", path, body(pool["id"], [kept | {"headers": ["From", "Subject", "from"]}]), expect=200
        )
    ).json()
    assert updated["email"]["dkim"][0]["publicKey"] == dkim.public_key_b64(ED)
    assert updated["email"]["dkim"][0]["headers"] == ["from", "subject"]
    assert updated["email"]["dkim"][0]["hasPrivateKey"] is True
    # A new selector has no stored key to keep; neither has the same selector under another algorithm.
    for entry, reason in (
        (kept | {"selector": "ed2"}, "no key is stored for selector 'ed2'"),
        (kept | {"algorithm": "rsa-sha256"}, "the stored key of selector 'ed1' is ed25519-sha256"),
    ):
        response = await api.call("PUT", path, body(pool["id"], [entry]), expect=400)
        assert response.json()["report"]["field"] == "email.dkim[0].privateKey"
        assert reason in response.json()["report"]["detailed-message"]
    # Removing every key turns signing off.
    cleared = (await api.call("PUT", path, body(pool["id"], []), expect=200)).json()
    assert cleared["email"]["dkim"] == []


@pytest.mark.parametrize(
    ("keys", "email", "field", "rule", "reason"),
    [
        (
            [ed_entry(privateKey="garbage!")],
            {},
            "email.dkim[0].privateKey",
            "dkim_key",
            "neither PEM nor base64",
        ),
        ([ed_entry(privateKey=RSA_PKCS1)], {}, "email.dkim[0].privateKey", "dkim_key", "not an ed25519 key"),
        ([rsa_entry(privateKey=ED_SEED)], {}, "email.dkim[0].privateKey", "dkim_key", "must be PEM"),
        (
            [ed_entry(), rsa_entry(domain="shop_example")],
            {},
            "email.dkim[1].domain",
            "dns_name",
            "not a domain name",
        ),
        ([ed_entry(selector="s 1")], {}, "email.dkim[0].selector", "dns_name", "not a DKIM selector"),
        ([ed_entry(), ed_entry()], {}, "email.dkim[1].selector", "unique", "given twice"),
        (
            [ed_entry(domain="other.example")],
            {},
            "email.dkim[0].domain",
            "aligned_with_from",
            "does not align",
        ),
        (
            [ed_entry(domain="mail.shop.example.org")],
            {},
            "email.dkim[0].domain",
            "aligned_with_from",
            "does not align",
        ),
        (
            [ed_entry(domain="ample.com")],
            {"fromAddress": "news@example.com"},
            "email.dkim[0].domain",
            "aligned_with_from",
            "does not align",
        ),
        (
            [ed_entry(headers=["To", "Subject"])],
            {},
            "email.dkim[0].headers",
            "signs_from",
            "must include From",
        ),
        (
            [ed_entry(headers=["From", "Bad Name"])],
            {},
            "email.dkim[0].headers",
            "header_name",
            "not a header name",
        ),
        (
            [ed_entry()],
            {"fromAddress": "news@{{context.domain}}"},
            "email.fromAddress",
            "dkim_fixed_from_domain",
            "domain is fixed",
        ),
        (
            [ed_entry()],
            {"fromAddress": "{{context.sender}}"},
            "email.fromAddress",
            "dkim_fixed_from_domain",
            "domain is fixed",
        ),
    ],
)
async def test_refusals_name_the_field_and_the_rule(
    api: Api, keys: list[dict[str, Any]], email: dict[str, Any], field: str, rule: str, reason: str
) -> None:
    pool = await api.pool()
    report = await refused(api, pool["id"], keys, **email)
    assert report["field"] == field
    assert report["rule"] == rule
    assert reason in report["detailed-message"]
    assert report["detailed-message"].startswith(f"{field}: ")


async def test_a_short_rsa_key_and_a_third_key_are_refused(api: Api) -> None:
    from tests.kit.test_dkim_keys import pem, short_rsa_key

    pool = await api.pool()
    report = await refused(api, pool["id"], [rsa_entry(privateKey=pem(short_rsa_key(768)))])
    assert report["field"] == "email.dkim[0].privateKey"
    assert "768 bits; DKIM needs at least 1024" in report["detailed-message"]
    report = await refused(api, pool["id"], [ed_entry(), rsa_entry(), ed_entry(selector="ed3")])
    assert report["field"] == "email.dkim"


async def test_a_personalized_local_part_and_a_subdomain_from_are_aligned(api: Api) -> None:
    pool = await api.pool()
    response = await api.call(
        "POST",
        "/v1/channel-configurations",
        body(pool["id"], [ed_entry(domain="Shop.Example")], fromAddress="{{context.team}}@mail.shop.example"),
        expect=201,
    )
    assert response.json()["email"]["dkim"][0]["domain"] == "shop.example"
