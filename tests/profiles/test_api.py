"""The profile API (/v1/profiles): upsert and merge, identities, limits, batches, reads, delete, tenancy."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from clarion.container import Container
from clarion.models.audiences import SegmentMembership
from clarion.profiles import service
from clarion.profiles.documents import MAX_ATTRIBUTE_BYTES
from tests.conftest import TenantFactory
from tests.profiles.conftest import Api, add_membership, detail, put, sandbox_id, stored_counts

JANE = {
    "attributes": {
        "person": {"name": {"firstName": "Jane", "lastName": "Doe"}, "birthDate": "1990-04-01"},
        "loyalty": {"tier": "gold", "points": 1200},
        "tags": ["a", "b"],
    },
    "identities": {"crmid": ["42"]},
}


async def test_put_creates_then_deep_merges(api: Api) -> None:
    created = await put(api, "email", "Jane@Shop.example", JANE, expect=201)
    assert created["identities"] == {"email": ["jane@shop.example"], "crmid": ["42"]}
    assert created["attributes"] == JANE["attributes"]
    assert created["segmentMembership"] == {"ups": {}}
    assert created["createdAt"] == created["updatedAt"]

    patch = {
        "attributes": {
            "person": {"name": {"firstName": "Janet", "lastName": None}},
            "loyalty": {"points": 1300},
            "tags": ["c"],
            "homeAddress": {"city": "Lyon"},
        }
    }
    merged = await put(api, "crmid", "42", patch, expect=200)
    assert merged["id"] == created["id"], "any identity addresses the same profile"
    assert merged["attributes"] == {
        "person": {"name": {"firstName": "Janet"}, "birthDate": "1990-04-01"},
        "loyalty": {"tier": "gold", "points": 1300},
        "tags": ["c"],
        "homeAddress": {"city": "Lyon"},
    }
    assert merged["updatedAt"] > created["updatedAt"]
    fetched = (await api.call("GET", "/v1/profiles/email/JANE@shop.example", expect=200)).json()
    assert fetched == merged


async def test_null_removes_keys_and_objects(api: Api) -> None:
    await put(api, "crmid", "1", JANE, expect=201)
    after = await put(api, "crmid", "1", {"attributes": {"person": None, "tags": None}}, expect=200)
    assert after["attributes"] == {"loyalty": {"tier": "gold", "points": 1200}}
    again = await put(api, "crmid", "1", {"attributes": {"missing": None}}, expect=200)
    assert again["attributes"] == after["attributes"], "removing an absent key changes nothing"


async def test_extra_identities_are_added_and_resolve(api: Api) -> None:
    await put(api, "crmid", "7", {"identities": {"ECID": "ecid-7"}}, expect=201)
    view = await put(api, "ECID", "ecid-7", {"identities": {"phone": ["+331", "+332"]}}, expect=200)
    assert view["identities"] == {"crmid": ["7"], "ECID": ["ecid-7"], "phone": ["+331", "+332"]}
    for path in ("crmid/7", "phone/+332", "ECID/ecid-7"):
        assert (await api.call("GET", f"/v1/profiles/{path}", expect=200)).json()["id"] == view["id"]
    assert (await api.call("GET", "/v1/profiles/ecid/ecid-7")).status_code == 404, (
        "namespaces are case-sensitive"
    )


async def test_identity_of_another_profile_is_a_conflict(api: Api, container: Container) -> None:
    owner = await put(api, "crmid", "42", {}, expect=201)
    response = await api.call("PUT", "/v1/profiles/email/b@x.example", {"identities": {"crmid": ["42"]}})
    assert response.status_code == 409
    assert f"identities.crmid: '42' already belongs to another profile ({owner['id']})" == detail(response)
    assert (await api.call("GET", "/v1/profiles/email/b@x.example")).status_code == 404, "nothing was written"
    assert await stored_counts(container, api.tenant.org_id) == (1, 1)


async def test_values_with_slashes_and_email_case(api: Api) -> None:
    created = await put(api, "ext", "a/b c", {"attributes": {"x": 1}}, expect=201)
    assert created["identities"] == {"ext": ["a/b c"]}
    assert (await api.call("GET", "/v1/profiles/ext/a%2Fb%20c", expect=200)).json()["id"] == created["id"]
    assert (await api.call("GET", "/v1/profiles/ext/A%2Fb%20c")).status_code == 404, "only email folds case"


async def test_limits_name_the_rule(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/profiles/bad%20ns/1", {}, "must match [A-Za-z0-9_.-]{1,64}"),
        (f"/v1/profiles/{'n' * 65}/1", {}, "must match"),
        (f"/v1/profiles/crmid/{'v' * 513}", {}, "1-512 characters"),
        ("/v1/profiles/crmid/1", {"identities": {"crmid": [""]}}, "identities.crmid[0]: identity values"),
        ("/v1/profiles/crmid/1", {"identities": {"x y": ["1"]}}, "identities.x y: namespace"),
        ("/v1/profiles/crmid/1", {"identities": {"crmid": [5]}}, "identities.crmid"),
        ("/v1/profiles/crmid/1", {"attributes": {"blob": "x" * MAX_ATTRIBUTE_BYTES}}, "102400-byte limit"),
        ("/v1/profiles/crmid/1", {"attributes": _nested(16)}, "deeper than 16 levels"),
        ("/v1/profiles/crmid/1", {"colour": "red"}, "colour: unknown field"),
    ]
    for path, body, message in cases:
        response = await api.call("PUT", path, body)
        assert response.status_code == 400, (path, response.text)
        assert message in detail(response), (message, detail(response))
    await put(api, "crmid", "1", {"attributes": _nested(15)}, expect=201)


async def test_merged_document_over_the_limit_is_refused(api: Api) -> None:
    half = "x" * (MAX_ATTRIBUTE_BYTES // 2 + 10)
    await put(api, "crmid", "9", {"attributes": {"a": half}}, expect=201)
    response = await api.call("PUT", "/v1/profiles/crmid/9", {"attributes": {"b": half}})
    assert response.status_code == 400
    assert "102400-byte limit" in detail(response)
    stored = (await api.call("GET", "/v1/profiles/crmid/9", expect=200)).json()
    assert set(stored["attributes"]) == {"a"}


def _nested(levels: int) -> dict[str, Any]:
    """An attribute patch nesting ``levels`` objects below the top one."""
    document: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        document = {"n": document}
    return {"top": document}


async def test_batch_results_per_item_in_one_transaction(api: Api, container: Container) -> None:
    await put(api, "crmid", "taken", {}, expect=201)
    items: list[Any] = [
        {"identities": {"email": ["A@x.example"], "crmid": ["a"]}, "attributes": {"n": 1, "keep": True}},
        {"identities": {"crmid": ["a"]}, "attributes": {"n": 2}},
        {"attributes": {"n": 3}},
        {"identities": {"bad ns": ["1"]}},
        {"identities": {"email": ["c@x.example"], "crmid": ["taken"]}},
        "not an object",
        {"identities": {"email": ["d@x.example"]}, "attributes": _nested(16)},
        {"identities": {"email": ["e@x.example"]}},
    ]
    response = await api.call("POST", "/v1/profiles:batch", {"profiles": items}, expect=200)
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(len(items)))
    assert [result["status"] for result in results] == [201, 200, 400, 400, 409, 400, 400, 201]
    assert results[0]["id"] == results[1]["id"], "a later item sees the profile an earlier one created"
    assert "identities: at least one identity" in results[2]["error"]
    assert "must match" in results[3]["error"]
    assert "'taken' already belongs to another profile" in results[4]["error"]
    assert "id" not in results[4]
    assert "deeper than 16" in results[6]["error"]
    stored = (await api.call("GET", "/v1/profiles/email/a@x.example", expect=200)).json()
    assert stored["attributes"] == {"n": 2, "keep": True}
    assert stored["identities"] == {"email": ["a@x.example"], "crmid": ["a"]}
    assert await stored_counts(container, api.tenant.org_id) == (3, 4)


async def test_batch_size_rules(api: Api) -> None:
    empty = await api.call("POST", "/v1/profiles:batch", {"profiles": []})
    assert empty.status_code == 400
    items = [{"identities": {"crmid": [str(i)]}} for i in range(1001)]
    too_many = await api.call("POST", "/v1/profiles:batch", {"profiles": items})
    assert too_many.status_code == 400
    assert "profiles" in detail(too_many)
    results = (await api.call("POST", "/v1/profiles:batch", {"profiles": items[:1000]}, expect=200)).json()
    assert {result["status"] for result in results["results"]} == {201}


async def test_concurrent_writers_of_one_new_identity_make_one_profile(
    api: Api, container: Container
) -> None:
    bodies = [{"attributes": {f"k{i}": i}} for i in range(6)]
    responses = await asyncio.gather(*(api.call("PUT", "/v1/profiles/crmid/race", body) for body in bodies))
    assert sorted(response.status_code for response in responses) == [200] * 5 + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    stored = (await api.call("GET", "/v1/profiles/crmid/race", expect=200)).json()
    assert stored["attributes"] == {f"k{i}": i for i in range(6)}, "no write was lost"
    assert await stored_counts(container, api.tenant.org_id) == (1, 1)


async def test_read_shows_audience_memberships(api: Api, container: Container) -> None:
    created = await put(api, "crmid", "m", {}, expect=201)
    segment_id = await add_membership(container, api, created["id"], status="existing")
    view = (await api.call("GET", "/v1/profiles/crmid/m", expect=200)).json()
    membership = view["segmentMembership"]["ups"][segment_id]
    assert membership["status"] == "existing"
    assert membership["lastQualificationTime"].startswith("20")


async def test_delete_removes_identities_and_memberships(api: Api, container: Container) -> None:
    created = await put(api, "crmid", "d", {"identities": {"email": ["d@x.example"]}}, expect=201)
    await add_membership(container, api, created["id"])
    await put(api, "crmid", "other", {}, expect=201)
    response = await api.call("DELETE", "/v1/profiles/email/d@x.example")
    assert response.status_code == 204
    for path in ("email/d@x.example", "crmid/d"):
        assert (await api.call("GET", f"/v1/profiles/{path}")).status_code == 404
    assert await stored_counts(container, api.tenant.org_id) == (1, 1)
    async with container.unit_of_work() as uow:
        memberships = await uow.session.scalar(
            select(func.count())
            .select_from(SegmentMembership)
            .where(SegmentMembership.profile_id == created["id"])
        )
    assert memberships == 0
    assert (await api.call("DELETE", "/v1/profiles/crmid/d")).status_code == 404
    recreated = await put(api, "crmid", "d", {}, expect=201)
    assert recreated["id"] != created["id"]


async def test_tenants_cannot_see_or_delete_each_others_profiles(
    api: Api, make_tenant: TenantFactory, container: Container
) -> None:
    mine = await put(api, "crmid", "shared", {"attributes": {"owner": "me"}}, expect=201)
    other = Api(api.client, await make_tenant())
    assert (await other.call("GET", "/v1/profiles/crmid/shared")).status_code == 404
    assert (await other.call("DELETE", "/v1/profiles/crmid/shared")).status_code == 404
    assert (await other.call("GET", "/v1/profiles", expect=200)).json()["total"] == 0
    theirs = await put(other, "crmid", "shared", {"attributes": {"owner": "them"}}, expect=201)
    assert theirs["id"] != mine["id"]
    still = (await api.call("GET", "/v1/profiles/crmid/shared", expect=200)).json()
    assert still["attributes"] == {"owner": "me"}


async def test_list_is_paginated_and_filtered_by_namespace(api: Api) -> None:
    for index in range(5):
        identities = {"email": [f"p{index}@x.example"]} if index % 2 == 0 else {}
        await put(api, "crmid", f"c{index}", {"identities": identities}, expect=201)
    page = (await api.call("GET", "/v1/profiles?limit=2&offset=1", expect=200)).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["identities"]["crmid"] for item in page["items"]] == [["c1"], ["c2"]]
    emails = (await api.call("GET", "/v1/profiles?namespace=email&start=1", expect=200)).json()
    assert emails["total"] == 3
    assert emails["offset"] == 1
    assert [item["identities"]["email"] for item in emails["items"]] == [["p2@x.example"], ["p4@x.example"]]
    bad = await api.call("GET", "/v1/profiles?namespace=a%20b")
    assert bad.status_code == 400


async def test_deleting_a_sandboxs_profiles_leaves_other_sandboxes_alone(
    api: Api, container: Container
) -> None:
    created = await put(api, "crmid", "gone", {"identities": {"email": ["g@x.example"]}}, expect=201)
    await add_membership(container, api, created["id"])
    await api.call("POST", "/v1/sandboxes", {"name": "dev"}, expect=201)
    response = await api.client.put(
        "/v1/profiles/crmid/kept", json={"attributes": {"a": 1}}, headers=api.tenant.headers("dev")
    )
    assert response.status_code == 201
    async with container.unit_of_work() as uow:
        await service.delete_sandbox_profiles(uow, api.tenant.org_id, await sandbox_id(api))
        await uow.commit()
    assert await stored_counts(container, api.tenant.org_id) == (1, 1)
    assert (await api.call("GET", "/v1/profiles/crmid/gone")).status_code == 404
    kept = await api.client.get("/v1/profiles/crmid/kept", headers=api.tenant.headers("dev"))
    assert kept.json()["attributes"] == {"a": 1}
    async with container.unit_of_work() as uow:
        memberships = await uow.session.scalar(
            select(func.count())
            .select_from(SegmentMembership)
            .where(SegmentMembership.org_id == api.tenant.org_id)
        )
    assert memberships == 0


async def test_deleting_a_sandbox_through_the_api_removes_its_profiles(
    api: Api, container: Container
) -> None:
    await api.call("POST", "/v1/sandboxes", {"name": "scratch"}, expect=201)
    response = await api.client.put(
        "/v1/profiles/crmid/temp",
        json={"identities": {"email": ["t@x.example"]}},
        headers=api.tenant.headers("scratch"),
    )
    assert response.status_code == 201
    await put(api, "crmid", "stays", {"attributes": {"a": 1}}, expect=201)
    assert await stored_counts(container, api.tenant.org_id) == (2, 3)
    await api.call("DELETE", "/v1/sandboxes/scratch", expect=204)
    assert await stored_counts(container, api.tenant.org_id) == (1, 1)
