"""The gateway returns the exact AEP bodies of contract §2.1 for every header problem."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory

URL = "/v1/sandboxes"


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


async def test_valid_headers_authenticate(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=tenant.headers())
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["items"]] == ["prod"]


async def test_missing_authorization_is_403010(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=without(tenant.headers(), "Authorization"))
    assert response.status_code == 403
    assert response.json() == {"error_code": "403010", "message": "Oauth token is missing."}


@pytest.mark.parametrize("value", ["Bearer not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"])
async def test_invalid_token_is_401013(client: httpx.AsyncClient, tenant: Tenant, value: str) -> None:
    headers = tenant.headers() | {"Authorization": value}
    response = await client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


async def test_missing_api_key_is_403000(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=without(tenant.headers(), "x-api-key"))
    assert response.status_code == 403
    assert response.json() == {"error_code": "403000", "message": "Api Key is required"}


async def test_unknown_api_key_is_403003(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=tenant.headers() | {"x-api-key": "nope"})
    assert response.status_code == 403
    assert response.json() == {"error_code": "403003", "message": "Api Key is invalid"}


async def test_missing_org_header_is_400003(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=without(tenant.headers(), "x-gw-ims-org-id"))
    assert response.status_code == 400
    assert response.json() == {"error_code": "400003", "message": "Missing header"}


async def test_token_of_another_org_is_403025(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    alice, bob = await make_tenant(), await make_tenant()
    response = await client.get(URL, headers=alice.headers() | {"x-gw-ims-org-id": bob.ims_org_id})
    assert response.status_code == 403
    assert response.json() == {"error_code": "403025", "message": "Profile is not valid"}


async def test_token_must_belong_to_the_api_key(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    alice, bob = await make_tenant(), await make_tenant()
    headers = alice.headers() | {"x-api-key": bob.api_key}
    response = await client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "401013"


async def test_expired_token_is_401013(client: httpx.AsyncClient, container: object, tenant: Tenant) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from clarion.kit.clock import utcnow
    from clarion.kit.ids import hash_secret
    from clarion.models.tenancy import AccessToken

    async with container.unit_of_work() as uow:  # type: ignore[attr-defined]
        await uow.session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == hash_secret(tenant.token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await uow.commit()
    response = await client.get(URL, headers=tenant.headers())
    assert response.status_code == 401
    assert response.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


async def test_missing_sandbox_header_means_prod(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/organization", headers=without(tenant.headers(), "x-sandbox-name"))
    assert response.status_code == 200
    assert response.json()["sandbox"] == "prod"


async def test_unknown_sandbox_is_404_in_aep_envelope(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers=tenant.headers("nosuch"))
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert "nosuch" in body["report"]["detailed-message"]
    assert body["errorMessage"] == body["report"]["detailed-message"]


async def test_tokens_are_stored_hashed(container: object, tenant: Tenant) -> None:
    from sqlalchemy import select

    from clarion.models.tenancy import AccessToken

    async with container.unit_of_work() as uow:  # type: ignore[attr-defined]
        hashes = list(await uow.session.scalars(select(AccessToken.token_hash)))
    assert tenant.token not in hashes
    assert all(len(value) == 64 for value in hashes)
