"""Bulk writes (the import's path: COPY on PostgreSQL) racing each other stay consistent."""

from __future__ import annotations

import asyncio

from clarion.container import Container
from clarion.profiles import service
from clarion.profiles.documents import profile_input
from clarion.profiles.plan import Outcome, plan_presuming_new
from clarion.tenancy.principal import job_principal
from tests.profiles.conftest import Api, put, sandbox_id, stored_counts


async def test_racing_bulk_writes_of_the_same_new_identities_make_one_profile_each(
    api: Api, container: Container
) -> None:
    principal = job_principal(api.tenant.org_id, await sandbox_id(api))

    async def write(key: str) -> list[Outcome]:
        writes = [profile_input([("crmid", f"r{n}")], {key: n}) for n in range(50)]
        async with container.unit_of_work() as uow:
            return await service.write(uow, principal, writes, bulk=True)

    first, second = await asyncio.gather(write("a"), write("b"))
    assert sorted(outcome.status for outcome in first + second) == [200] * 50 + [201] * 50
    assert await stored_counts(container, api.tenant.org_id) == (50, 50)
    for n in (0, 49):
        stored = (await api.call("GET", f"/v1/profiles/crmid/r{n}", expect=200)).json()
        assert stored["attributes"] == {"a": n, "b": n}, "the loser was planned again on the winner's rows"
        assert stored["identities"] == {"crmid": [f"r{n}"]}


async def test_a_batch_expecting_only_new_identities_is_read_again_when_one_is_stored(
    api: Api, container: Container
) -> None:
    await put(api, "crmid", "known", {"attributes": {"a": 1}}, expect=201)
    principal = job_principal(api.tenant.org_id, await sandbox_id(api))
    writes = [
        profile_input([("crmid", "fresh")], {"n": 1}),
        profile_input([("crmid", "known"), ("email", "k@x.example")], {"b": 2}),
    ]
    async with container.unit_of_work() as uow:
        outcomes = await service.write(uow, principal, writes, bulk=True, presumed=plan_presuming_new(writes))
    assert [outcome.status for outcome in outcomes] == [201, 200]
    known = (await api.call("GET", "/v1/profiles/email/k@x.example", expect=200)).json()
    assert known["attributes"] == {"a": 1, "b": 2}
    assert known["identities"] == {"crmid": ["known"], "email": ["k@x.example"]}
    assert await stored_counts(container, api.tenant.org_id) == (2, 3)
