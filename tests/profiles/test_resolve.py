"""``resolve()``, the way standard-mode executions read (and create) recipients' profiles."""

from __future__ import annotations

from clarion.container import Container
from clarion.profiles import service
from clarion.tenancy.principal import job_principal
from tests.profiles.conftest import Api, put, sandbox_id, stored_counts


async def test_resolve_finds_and_creates_profiles_with_their_identity_map(
    api: Api, container: Container
) -> None:
    await put(api, "email", "known@x.example", {"attributes": {"tier": "gold"}}, expect=201)
    principal = job_principal(api.tenant.org_id, await sandbox_id(api))
    async with container.unit_of_work() as uow:
        found, missing = await service.resolve(
            uow, principal, "email", ["Known@X.example", "new@x.example"], create_missing=False
        )
    assert found == {"Known@X.example": {"tier": "gold"}}, "email matches whatever its case, keyed as asked"
    assert missing == ["new@x.example"]

    async with container.unit_of_work() as uow:
        found, missing = await service.resolve(
            uow,
            principal,
            "email",
            ["New@x.example", "new@X.example", "known@x.example"],
            create_missing=True,
        )
    assert missing == []
    assert found == {"New@x.example": {}, "new@X.example": {}, "known@x.example": {"tier": "gold"}}
    created = (await api.call("GET", "/v1/profiles/email/new@x.example", expect=200)).json()
    assert created["identities"] == {"email": ["new@x.example"]}
    assert created["attributes"] == {}
    assert await stored_counts(container, api.tenant.org_id) == (2, 2)
