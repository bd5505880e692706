"""The Throttling API (contract §3.1 to 3.6), under both mount prefixes."""

from __future__ import annotations

from typing import Any

import pytest

from clarion.throttling.endpoints import PREFIXES
from clarion.throttling.repository import ThrottlingRepository
from tests.throttling.conftest import ISO_MICRO, THROTTLING_BODY, UUID, Jo, jo_error

CONFIGS = "/throttlingConfigs"


async def create(jo: Jo, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await jo.call("POST", CONFIGS, THROTTLING_BODY if body is None else body, expect=200)
    return response.json()  # type: ignore[no-any-return]


async def test_postman_sequence(jo: Jo) -> None:
    listed = await jo.call("POST", "/list/throttlingConfigs", {}, expect=200)
    assert listed.json() == {"results": []}
    uid = (await create(jo))["uid"]
    listed = await jo.call("POST", "/list/throttlingConfigs", expect=200)
    assert [config["uid"] for config in listed.json()["results"]] == [uid]
    for method in ("GET", "POST"):
        checked = await jo.call(method, f"{CONFIGS}/{uid}/canDeploy", expect=200)
        assert checked.json() == {"canDeploy": {"validationStatus": "ok"}}
    deployed = await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    assert deployed.content == b""
    result = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert (result["state"], result["hasBeenDeployed"], result["version"]) == ("deployed", True, "1.0")
    metadata = result["metadata"]
    assert metadata["lastDeployedBy"] == metadata["lastDeployedById"] == metadata["createdBy"]
    assert ISO_MICRO.fullmatch(metadata["lastDeployedAt"])
    undeployed = await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    assert undeployed.content == b""
    result = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert (result["state"], result["hasBeenDeployed"]) == ("created", False)
    assert "version" not in result
    assert result["metadata"]["lastDeployedAt"] == metadata["lastDeployedAt"]
    deleted = await jo.call("DELETE", f"{CONFIGS}/{uid}", expect=200)
    assert deleted.json() == {}
    missing = await jo.call("GET", f"{CONFIGS}/{uid}", expect=404)
    assert jo_error(missing)["code"] == 1467
    assert (await jo.call("POST", "/list/throttlingConfigs", expect=200)).json() == {"results": []}


async def test_create_answer_has_the_documented_shape(jo: Jo) -> None:
    created = await create(jo)
    uid = created["uid"]
    assert UUID.fullmatch(uid)
    assert created["uri"] == f"/voyager/apis/throttlingConfigs/{uid}"
    assert created["resStatus"] == "created"
    assert created["canDeploy"] == {"validationStatus": "ok"}
    element = created["createdElement"]
    metadata = element.pop("metadata")
    assert element == {
        **THROTTLING_BODY,
        "orgId": jo.tenant.ims_org_id,
        "sandboxId": await jo.sandbox_id(),
        "sandboxName": "prod",
        "uid": uid,
        "state": "created",
        "authoringFormatVersion": "1.0",
    }
    assert set(metadata) == {
        "createdBy",
        "createdById",
        "lastModifiedBy",
        "lastModifiedById",
        "createdAt",
        "lastModifiedAt",
    }
    assert metadata["createdBy"] == metadata["createdById"] == metadata["lastModifiedBy"]
    assert metadata["createdBy"].startswith(jo.tenant.api_key[:12])
    assert metadata["createdBy"].endswith("@techacct.clarion")
    assert ISO_MICRO.fullmatch(metadata["createdAt"])
    assert metadata["createdAt"] == metadata["lastModifiedAt"]
    fetched = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert fetched["_id"] == f"{uid}_{element['sandboxId']}"
    assert fetched["hasBeenDeployed"] is False
    assert fetched["metadata"] == metadata


async def test_update_is_a_full_overwrite(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    body = {"urlPattern": "https://api.example.org/v2/*", "methods": ["GET"], "maxThroughput": 300}
    updated = (await jo.call("PUT", f"{CONFIGS}/{uid}", body, expect=200)).json()
    assert (updated["uid"], updated["resStatus"]) == (uid, "updated")
    assert updated["uri"] == f"/voyager/apis/throttlingConfigs/{uid}"
    assert updated["canDeploy"] == {"validationStatus": "ok"}
    element = updated["updatedElement"]
    assert "name" not in element
    assert "description" not in element
    assert (element["urlPattern"], element["methods"], element["maxThroughput"]) == (
        "https://api.example.org/v2/*",
        ["GET"],
        300,
    )
    assert (element["state"], element["hasBeenDeployed"]) == ("updated", False)
    assert element["_id"] == f"{uid}_{element['sandboxId']}"
    assert element["metadata"]["lastModifiedAt"] >= element["metadata"]["createdAt"]
    fetched = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert fetched == element
    # Undeploy after deploy returns to "updated", the state before deployment.
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    fetched = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert (fetched["state"], fetched["hasBeenDeployed"]) == ("updated", False)


async def test_update_of_a_deployed_config_stays_deployed(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    body = THROTTLING_BODY | {"maxThroughput": 250}
    element = (await jo.call("PUT", f"{CONFIGS}/{uid}", body, expect=200)).json()["updatedElement"]
    assert (element["state"], element["hasBeenDeployed"], element["version"]) == ("deployed", True, "1.0")
    assert element["maxThroughput"] == 250
    # Values that would not deploy are refused for a deployed config: nothing changes.
    refused = await jo.call("PUT", f"{CONFIGS}/{uid}", THROTTLING_BODY | {"maxThroughput": 100}, expect=400)
    inner = jo_error(refused)
    assert inner["code"] == "ERR_THROTTLING_CONFIG_101"
    assert inner["message"].startswith("Can't update a deployed throttling config: 1 error is currently")
    assert inner["errors"][0]["errorCode"] == "ERR_THROTTLING_CONFIG_101"
    fetched = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert fetched["maxThroughput"] == 250


async def test_an_invalid_config_is_saved_but_cannot_deploy(jo: Jo) -> None:
    created = await create(jo, {"name": "incomplete"})
    assert created["canDeploy"] == {
        "validationStatus": "error",
        "reason": "3 errors are currently blocking the publication",
        "errors": [
            {"errorCode": "ERR_THROTTLING_CONFIG_100", "error": "throttling config: urlPattern required"},
            {"errorCode": "ERR_THROTTLING_CONFIG_100", "error": "throttling config: methods required"},
            {
                "errorCode": "ERR_THROTTLING_CONFIG_101",
                "error": "throttling config: maxThroughput is required and must be greater than or equal to "
                "200 and less than or equal to 5000",
            },
        ],
    }
    assert created["createdElement"]["name"] == "incomplete"
    uid = created["uid"]
    checked = (await jo.call("GET", f"{CONFIGS}/{uid}/canDeploy", expect=200)).json()
    assert checked == {"canDeploy": created["canDeploy"]}
    refused = await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=400)
    inner = jo_error(refused)
    assert inner["code"] == "ERR_THROTTLING_CONFIG_100"
    assert inner["message"].startswith("Can't deploy throttling config: 3 errors are currently blocking")
    assert inner["schema"] == "throttlingConfigs$prod"
    fixed = await jo.call("PUT", f"{CONFIGS}/{uid}", THROTTLING_BODY, expect=200)
    assert fixed.json()["canDeploy"] == {"validationStatus": "ok"}
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)


@pytest.mark.parametrize(
    ("url_pattern", "code", "message"),
    [
        ("api.example.org/data", "ERR_THROTTLING_CONFIG_104", "throttling config: malformed url pattern"),
        (
            "https://*.example.org/data",
            "ERR_THROTTLING_CONFIG_105",
            "throttling config: wildcards not allowed in host part of the url pattern",
        ),
    ],
)
async def test_url_pattern_errors(jo: Jo, url_pattern: str, code: str, message: str) -> None:
    created = await create(jo, THROTTLING_BODY | {"urlPattern": url_pattern})
    assert created["canDeploy"]["errors"] == [{"errorCode": code, "error": message}]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"not json", "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
        (b"[1, 2]", "the body: must be a JSON object"),
        (b'{"urlPattern": "https://a.test/*", "methods": ["GET"], "maxThroughput": "4000"}', "maxThroughput"),
        (b'{"urlPattern": "https://a.test/*", "methods": ["GET"], "maxThroughput": 250.5}', "maxThroughput"),
        (b'{"urlPattern": ["https://a.test/*"], "methods": ["GET"], "maxThroughput": 250}', "urlPattern"),
        (b'{"urlPattern": "https://a.test/*", "methods": ["SEND"], "maxThroughput": 250}', "methods[0]"),
    ],
)
async def test_bodies_that_cannot_be_stored_are_a_400_naming_the_field(
    jo: Jo, content: bytes, field: str
) -> None:
    refused = await jo.call("POST", CONFIGS, content=content, expect=400)
    inner = jo_error(refused)
    assert inner["code"] == "ERR_THROTTLING_CONFIG_106"
    assert inner["family"] == "INPUT_OUTPUT_ERROR"
    assert inner["message"].startswith(f"throttling config: invalid payload: {field}")
    assert (await jo.call("POST", "/list/throttlingConfigs", expect=200)).json() == {"results": []}
    uid = (await create(jo))["uid"]
    await jo.call("PUT", f"{CONFIGS}/{uid}", content=content, expect=400)
    fetched = (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]
    assert fetched["state"] == "created"


async def test_only_one_config_per_organization(jo: Jo) -> None:
    first = await create(jo)
    refused = await jo.call("POST", CONFIGS, THROTTLING_BODY, expect=400)
    inner = jo_error(refused)
    assert inner == inner | {
        "code": 1465,
        "family": "INPUT_OUTPUT_ERROR",
        "message": "Can't create throttling config: only one config allowed per org",
        "schema": "throttlingConfigs$prod",
        "service": "clarion-authoring-api",
    }
    assert "context" in inner
    # The limit is per organization, not per prefix or sandbox: another production sandbox sees it too.
    other = await jo.new_sandbox("production")
    await other.call("POST", CONFIGS, THROTTLING_BODY, expect=400)
    listed = (await other.call("POST", "/list/throttlingConfigs", expect=200)).json()["results"]
    assert [config["uid"] for config in listed] == [first["uid"]]
    assert listed[0]["sandboxName"] == "prod"
    await jo.call("DELETE", f"{CONFIGS}/{first['uid']}", expect=200)
    await create(jo)


async def test_non_production_sandbox_is_refused_for_every_operation(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    dev = await jo.new_sandbox()
    operations = [
        ("POST", "/list/throttlingConfigs", {}),
        ("POST", CONFIGS, THROTTLING_BODY),
        ("GET", f"{CONFIGS}/{uid}", None),
        ("PUT", f"{CONFIGS}/{uid}", THROTTLING_BODY),
        ("DELETE", f"{CONFIGS}/{uid}", None),
        ("GET", f"{CONFIGS}/{uid}/canDeploy", None),
        ("POST", f"{CONFIGS}/{uid}/canDeploy", None),
        ("POST", f"{CONFIGS}/{uid}/deploy", None),
        ("POST", f"{CONFIGS}/{uid}/undeploy", None),
    ]
    for method, path, body in operations:
        refused = await dev.call(method, path, body, expect=400)
        inner = jo_error(refused)
        assert (inner["code"], inner["message"]) == (
            1463,
            "Operation not allowed on throttling config: non prod sandbox",
        ), (method, path)
        assert inner["schema"] == f"throttlingConfigs${dev.sandbox}"
    assert (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]["state"] == "created"


async def test_unknown_sandbox_is_the_documented_500(jo: Jo) -> None:
    refused = await jo.in_sandbox("no-such-sandbox").call("POST", "/list/throttlingConfigs", {}, expect=500)
    inner = jo_error(refused)
    assert (inner["code"], inner["family"], inner["message"]) == (4000, "INTERNAL_ERROR", "INTERNAL ERROR")


async def test_delete_of_a_deployed_config_needs_force(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    refused = await jo.call("DELETE", f"{CONFIGS}/{uid}", expect=400)
    assert jo_error(refused)["code"] == 1456
    assert jo_error(refused)["message"] == (
        "Can't delete a deployed throttling config. Undeploy it before deleting it"
    )
    await jo.call("DELETE", f"{CONFIGS}/{uid}?forceDelete=false", expect=400)
    assert (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]["state"] == "deployed"
    deleted = await jo.call("DELETE", f"{CONFIGS}/{uid}?forceDelete=true", expect=200)
    assert deleted.json() == {}
    await jo.call("GET", f"{CONFIGS}/{uid}", expect=404)
    assert (await jo.call("POST", "/list/throttlingConfigs", expect=200)).json() == {"results": []}
    await create(jo)  # the organization's slot is free again


async def test_deploy_twice_is_1466_and_undeploy_of_undeployed_is_204(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    refused = await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=400)
    inner = jo_error(refused)
    assert (inner["code"], inner["message"]) == (1466, "Can't deploy throttling config: already deployed")
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", THROTTLING_BODY),
        ("DELETE", "", None),
        ("DELETE", "?forceDelete=true", None),
        ("GET", "/canDeploy", None),
        ("POST", "/canDeploy", None),
        ("POST", "/deploy", None),
        ("POST", "/undeploy", None),
    ],
)
async def test_unknown_uid_is_1467(jo: Jo, method: str, suffix: str, body: Any) -> None:
    uid = "043a1aea-2dfd-4965-b93a-cb9a1eced0e6"
    missing = await jo.call(method, f"{CONFIGS}/{uid}{suffix}", body, expect=404)
    inner = jo_error(missing)
    assert (inner["code"], inner["message"]) == (1467, "throttling config not found")
    assert inner["family"] == "INPUT_OUTPUT_ERROR"
    assert inner["schema"] == "throttlingConfigs$prod"


async def test_another_organization_sees_nothing(jo: Jo, make_tenant: Any) -> None:
    uid = (await create(jo))["uid"]
    bob = Jo(jo.client, await make_tenant(), jo.prefix)
    assert (await bob.call("POST", "/list/throttlingConfigs", expect=200)).json() == {"results": []}
    for method, suffix in (("GET", ""), ("POST", "/deploy"), ("DELETE", "?forceDelete=true")):
        await bob.call(method, f"{CONFIGS}/{uid}{suffix}", expect=404)
    await bob.call("POST", CONFIGS, THROTTLING_BODY, expect=200)  # its own slot
    assert (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]["state"] == "created"


@pytest.mark.parametrize(
    ("operation", "method", "suffix", "code", "message"),
    [
        ("get", "GET", "", 1460, "Can't get throttling config: unexpected error occurs"),
        ("get", "PUT", "", 1462, "Can't update throttling config: unexpected error occurs"),
        ("get", "DELETE", "", 1457, "Can't delete throttling config: unexpected error occurs"),
        ("get", "POST", "/deploy", 1458, "Can't deploy throttling config: unexpected error occurs"),
        ("get", "POST", "/undeploy", 1459, "Can't undeploy throttling config: unexpected error occurs"),
        ("insert", "POST", None, 1464, "Can't create throttling config: unexpected error occurs"),
    ],
)
async def test_unexpected_failures_answer_the_documented_codes(
    jo: Jo,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    method: str,
    suffix: str | None,
    code: int,
    message: str,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(ThrottlingRepository, operation, broken)
    path = CONFIGS if suffix is None else f"{CONFIGS}/043a1aea-2dfd-4965-b93a-cb9a1eced0e6{suffix}"
    failed = await jo.call(method, path, THROTTLING_BODY if method in ("POST", "PUT") else None, expect=500)
    inner = jo_error(failed)
    assert (inner["code"], inner["message"], inner["family"]) == (code, message, "INTERNAL_ERROR")
    assert "database went away" not in failed.text


async def test_both_apis_are_in_the_openapi_document(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    expected = {
        "/list/{kind}": {"post"},
        "/{kind}": {"post"},
        "/{kind}/{{uid}}": {"get", "put", "delete"},
        "/{kind}/{{uid}}/canDeploy": {"get", "post"},
        "/{kind}/{{uid}}/deploy": {"post"},
        "/{kind}/{{uid}}/undeploy": {"post"},
    }
    for prefix in PREFIXES:
        for kind in ("throttlingConfigs", "endpointConfigs"):
            for template, methods in expected.items():
                path = prefix + template.format(kind=kind)
                assert set(paths[path]) == methods, path
    create_body = paths["/authoring/throttlingConfigs"]["post"]["requestBody"]["content"]["application/json"]
    assert create_body["schema"] == {"$ref": "#/components/schemas/ThrottlingConfigWrite"}
    schema = document["components"]["schemas"]["ThrottlingConfigWrite"]
    assert {"urlPattern", "methods", "maxThroughput"} <= set(schema["properties"])
