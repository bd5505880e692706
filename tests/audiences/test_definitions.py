"""Segment definitions: create, read, list, update, delete, bulk-get, every rule, tenant isolation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from clarion.models.activation import Flow
from tests.audiences.conftest import Ups, UpsFactory, detail

PROFILE = {"name": "_xdm.context.profile"}


def body(value: str = 'homeAddress.countryCode = "US"', **fields: Any) -> dict[str, Any]:
    """A valid pql/text definition; ``fields`` override or add wire fields."""
    return {
        "name": "In the US",
        "description": "Customers at a US home address",
        "expression": {"type": "PQL", "format": "pql/text", "value": value},
        "schema": PROFILE,
        **fields,
    }


async def test_create_returns_the_contract_view(ups: Ups) -> None:
    before = int(time.time() * 1000)
    response = await ups.call("POST", "/segment/definitions", body(payloadSchema="string"), expect=200)
    view = response.json()
    assert view["name"] == "In the US"
    assert view["description"] == "Customers at a US home address"
    assert view["expression"] == {
        "type": "PQL",
        "format": "pql/text",
        "value": 'homeAddress.countryCode = "US"',
    }
    assert view["schema"] == PROFILE
    assert view["profileInstanceId"] == "ups"
    assert view["imsOrgId"] == ups.tenant.ims_org_id
    assert view["sandbox"] == {
        "sandboxId": ups.sandbox_id,
        "sandboxName": "prod",
        "type": "production",
        "default": True,
    }
    assert view["evaluationInfo"] == {
        "batch": {"enabled": True},
        "continuous": {"enabled": False},
        "synchronous": {"enabled": False},
    }
    assert view["dataGovernancePolicy"] == {"excludeOptOut": True}
    assert view["payloadSchema"] == "string"
    # creationTime and updateTime are Unix milliseconds, updateEpoch Unix seconds (segmentation.yaml).
    assert before <= view["creationTime"] <= int(time.time() * 1000)
    assert view["updateTime"] // 1000 == view["updateEpoch"]
    again = await ups.call("GET", f"/segment/definitions/{view['id']}", expect=200)
    assert again.json() == view


async def test_merge_policy_is_fixed_per_sandbox(ups: Ups, make_ups: UpsFactory) -> None:
    first = await ups.segment('a = "1"')
    second = await ups.segment('a = "2"')
    other = await (await make_ups()).segment('a = "1"')
    assert first["mergePolicyId"] == second["mergePolicyId"] != other["mergePolicyId"]


async def test_pql_json_is_accepted_as_string_or_object(ups: Ups) -> None:
    document = {
        "nodeType": "fnApply",
        "fnName": "=",
        "params": [
            {
                "nodeType": "fieldLookup",
                "fieldName": "a",
                "object": {"nodeType": "parameterReference", "position": 1},
            },
            {"nodeType": "literal", "literalType": "String", "value": "x"},
        ],
    }
    as_string = {"type": "PQL", "format": "pql/json", "value": json.dumps(document)}
    created = await ups.call("POST", "/segment/definitions", body(expression=as_string), expect=200)
    assert json.loads(created.json()["expression"]["value"]) == document
    as_object = {"type": "PQL", "format": "pql/json", "value": document}
    second = await ups.call(
        "POST", "/segment/definitions", body(name="object", expression=as_object), expect=200
    )
    assert json.loads(second.json()["expression"]["value"]) == document


@pytest.mark.parametrize(
    ("value", "position", "token"),
    [
        ('a = "x" adn b = 1', 8, "adn"),
        ("homeAddress.countryCode = ", 26, ""),
    ],
)
async def test_pql_errors_are_400_naming_position_and_token(
    ups: Ups, value: str, position: int, token: str
) -> None:
    response = await ups.call("POST", "/segment/definitions", body(value), expect=400)
    report = response.json()["report"]
    assert report["position"] == position
    assert report["token"] == token
    assert f"position {position}" in detail(response)
    assert "expression.value" in detail(response)
    listing = await ups.call("GET", "/segment/definitions", expect=200)
    assert listing.json()["segments"] == []


async def test_pql_type_error_is_400(ups: Ups) -> None:
    response = await ups.call("POST", "/segment/definitions", body('"a" + 1 = 2'), expect=400)
    assert "position" in response.json()["report"]


async def test_invalid_pql_json_document_is_400(ups: Ups) -> None:
    expression = {"type": "PQL", "format": "pql/json", "value": '{"nodeType": '}
    response = await ups.call("POST", "/segment/definitions", body(expression=expression), expect=400)
    assert "not valid JSON" in detail(response)
    assert response.json()["report"]["position"] == 13


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"schema": None}, "schema"),
        ({"expression": {"type": "ARL", "format": "pql/text", "value": "a = 1"}}, "expression.type"),
        ({"expression": {"type": "PQL", "format": "pql/xml", "value": "a = 1"}}, "expression.format"),
        ({"expression": {"type": "PQL", "format": "pql/text"}}, "expression.value"),
        ({"evaluationInfo": {"batch": {"enabled": "sometimes"}}}, "evaluationInfo.batch.enabled"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(ups: Ups, change: dict[str, Any], field: str) -> None:
    payload = {key: value for key, value in body(**change).items() if value is not None}
    response = await ups.call("POST", "/segment/definitions", payload, expect=400)
    assert field in detail(response)


async def test_only_the_profile_schema_is_segmented(ups: Ups) -> None:
    response = await ups.call(
        "POST", "/segment/definitions", body(schema={"name": "_xdm.context.experienceevent"}), expect=400
    )
    assert "schema.name" in detail(response)


async def test_duplicate_name_is_422_pointing_to_patch(ups: Ups) -> None:
    await ups.call("POST", "/segment/definitions", body(), expect=200)
    response = await ups.call("POST", "/segment/definitions", body(value='a = "other"'), expect=422)
    assert "already exists" in detail(response)
    assert "PATCH" in detail(response)
    assert response.json()["title"] == "Already exists"


async def test_same_name_in_another_tenant_is_fine(ups: Ups, make_ups: UpsFactory) -> None:
    await ups.call("POST", "/segment/definitions", body(), expect=200)
    other = await make_ups()
    await other.call("POST", "/segment/definitions", body(), expect=200)


async def test_evaluation_info_given_is_completed(ups: Ups) -> None:
    view = await ups.segment('a = "1"', evaluationInfo={"continuous": {"enabled": True}})
    assert view["evaluationInfo"] == {
        "batch": {"enabled": False},
        "continuous": {"enabled": True},
        "synchronous": {"enabled": False},
    }


async def test_unknown_id_is_404_in_the_aep_envelope(ups: Ups) -> None:
    for method, payload in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
        response = await ups.call(method, "/segment/definitions/no-such-id", payload, expect=404)
        envelope = response.json()
        assert envelope["status"] == 404
        assert envelope["type"].startswith("https://ns.adobe.com/aep/errors/")
        assert "no-such-id" in envelope["errorMessage"]
        assert envelope["report"]["request-id"]


async def test_patch_replaces_given_fields_and_rechecks(ups: Ups) -> None:
    created = await ups.segment('a = "1"', name="first")
    await ups.segment('a = "2"', name="second")
    path = f"/segment/definitions/{created['id']}"
    changed = await ups.call(
        "PATCH",
        path,
        {
            "id": created["id"],
            "name": "renamed",
            "expression": {"type": "PQL", "format": "pql/text", "value": 'a = "3"'},
            "creationTime": 0,
            "updateTime": 0,
        },
        expect=200,
    )
    view = changed.json()
    assert view["name"] == "renamed"
    assert view["expression"]["value"] == 'a = "3"'
    assert view["description"] == created["description"]
    assert view["creationTime"] == created["creationTime"]
    assert view["updateTime"] >= created["updateTime"]
    taken = await ups.call("PATCH", path, {"name": "second"}, expect=422)
    assert "already exists" in detail(taken)
    bad = await ups.call(
        "PATCH", path, {"expression": {"type": "PQL", "format": "pql/text", "value": "a = = 1"}}, expect=400
    )
    assert "position" in bad.json()["report"]
    stored = (await ups.call("GET", path, expect=200)).json()
    assert (stored["name"], stored["expression"]["value"]) == ("renamed", 'a = "3"')


async def test_list_pages_and_sorts(ups: Ups) -> None:
    for name in ("charlie", "alpha", "bravo"):
        await ups.segment('a = "1"', name=name)
    first = (await ups.call("GET", "/segment/definitions?limit=2&sort=name:asc", expect=200)).json()
    assert [item["name"] for item in first["segments"]] == ["alpha", "bravo"]
    assert first["page"] == {
        "totalCount": 3,
        "totalPages": 2,
        "sortField": "name",
        "sort": "asc",
        "pageSize": 2,
        "limit": 2,
    }
    assert first["link"]["next"].startswith("/data/core/ups/segment/definitions?start=2&limit=2")
    second = (await ups.call("GET", "/segment/definitions?limit=2&page=1&sort=name:asc", expect=200)).json()
    assert [item["name"] for item in second["segments"]] == ["charlie"]
    assert second["link"] == {}
    newest = (await ups.call("GET", "/segment/definitions", expect=200)).json()
    assert [item["name"] for item in newest["segments"]] == ["bravo", "alpha", "charlie"]
    bad = await ups.call("GET", "/segment/definitions?sort=colour:asc", expect=400)
    assert "sort" in detail(bad)


async def test_bulk_get_answers_207_with_results_and_errors(ups: Ups, make_ups: UpsFactory) -> None:
    one = await ups.segment('a = "1"', name="one")
    two = await ups.segment('a = "2"', name="two")
    foreign = await (await make_ups()).segment('a = "1"')
    ids = [{"id": one["id"]}, {"id": two["id"]}, {"id": foreign["id"]}]
    response = await ups.call("POST", "/segment/definitions/bulk-get", {"ids": ids}, expect=207)
    answer = response.json()
    assert set(answer["results"]) == {one["id"], two["id"]}
    assert answer["results"][one["id"]]["name"] == "one"
    assert answer["errors"][foreign["id"]]["status"] == 404
    await ups.call("POST", "/segment/definitions/bulk-get", {"ids": []}, expect=400)


async def test_delete_removes_the_definition(ups: Ups) -> None:
    created = await ups.segment('a = "1"')
    response = await ups.call("DELETE", f"/segment/definitions/{created['id']}", expect=200)
    assert response.json()["status"] is True
    await ups.call("GET", f"/segment/definitions/{created['id']}", expect=404)


async def test_delete_is_refused_while_a_dataflow_activates_it(ups: Ups) -> None:
    created = await ups.segment('a = "1"')
    selector = {"type": "PLATFORM_SEGMENT", "value": {"id": created["id"], "name": "x"}}
    flow = Flow(
        org_id=ups.tenant.org_id,
        sandbox_id=ups.sandbox_id,
        sandbox_name="prod",
        name="to sftp",
        flow_spec_id="354d6aad-4754-46e4-a576-1b384561c440",
        transformations=[
            {"name": "GeneralTransform", "params": {"segmentSelectors": {"selectors": [selector]}}}
        ],
        created_by="tests",
        created_client="tests",
        updated_by="tests",
        updated_client="tests",
    )
    async with ups.container.unit_of_work() as uow:
        uow.session.add(flow)
        await uow.commit()
    response = await ups.call("DELETE", f"/segment/definitions/{created['id']}", expect=409)
    assert flow.id in detail(response)
    assert response.json()["report"]["flowIds"] == [flow.id]
    await ups.call("GET", f"/segment/definitions/{created['id']}", expect=200)


async def test_tenants_never_see_each_other(ups: Ups, make_ups: UpsFactory) -> None:
    created = await ups.segment('a = "1"')
    other = await make_ups()
    path = f"/segment/definitions/{created['id']}"
    await other.call("GET", path, expect=404)
    await other.call("PATCH", path, {"name": "stolen"}, expect=404)
    await other.call("DELETE", path, expect=404)
    assert (await other.call("GET", "/segment/definitions", expect=200)).json()["segments"] == []
    assert (await ups.call("GET", path, expect=200)).json()["name"] == created["name"]


async def test_sandboxes_of_one_tenant_are_separate(ups: Ups, make_ups: UpsFactory) -> None:
    created = await ups.segment('a = "1"')
    response = await ups.client.post("/v1/sandboxes", json={"name": "dev1"}, headers=ups.tenant.headers())
    assert response.status_code == 201, response.text
    dev = await make_ups(ups.tenant, sandbox="dev1")
    await dev.call("GET", f"/segment/definitions/{created['id']}", expect=404)
    same_name = await dev.segment('a = "1"', name=created["name"])
    assert same_name["sandbox"]["sandboxName"] == "dev1"
    assert same_name["sandbox"]["default"] is False
