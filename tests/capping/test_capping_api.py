"""The Capping API (contract §3.8), under both mount prefixes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.throttling.conftest import CAPPING_BODY, ISO_MICRO, UUID, Jo, jo_error

CONFIGS = "/endpointConfigs"
NO_CONNECTIONS: dict[str, Any] = CAPPING_BODY | {
    "services": {"dataSource": {"rating": {"maxCallsCount": 500, "periodInMs": 1000}}}
}


async def create(jo: Jo, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await jo.call("POST", CONFIGS, CAPPING_BODY if body is None else body, expect=200)
    return response.json()  # type: ignore[no-any-return]


async def result(jo: Jo, uid: str) -> dict[str, Any]:
    return (await jo.call("GET", f"{CONFIGS}/{uid}", expect=200)).json()["result"]  # type: ignore[no-any-return]


async def test_create_answer_has_the_documented_shape(jo: Jo) -> None:
    created = await create(jo)
    uid = created["uid"]
    assert UUID.fullmatch(uid)
    assert (created["uri"], created["resStatus"]) == (f"/voyager/apis/endpointConfigs/{uid}", "created")
    assert created["canDeploy"] == {"validationStatus": "ok"}
    element = created["createdElement"]
    metadata = element.pop("metadata")
    assert element == {
        "url": CAPPING_BODY["url"],
        "methods": ["GET"],
        "services": CAPPING_BODY["services"],
        "orgId": jo.tenant.ims_org_id,
        "tenantId": "prod",
        "uid": uid,
        "sandboxName": "prod",
        "sandboxId": await jo.sandbox_id(),
        "authoringFormatVersion": "1.0",
        "state": "created",
        "hasBeenDeployed": False,
    }
    assert ISO_MICRO.fullmatch(metadata["createdAt"])
    assert metadata["createdBy"] == metadata["lastModifiedById"]
    fetched = await result(jo, uid)
    assert fetched["_id"] == uid
    assert "deployedConfig" not in fetched


async def test_postman_sequence(jo: Jo) -> None:
    assert (await jo.call("POST", "/list/endpointConfigs", {}, expect=200)).json() == {"results": []}
    created = await create(jo, NO_CONNECTIONS)
    uid = created["uid"]
    warning = {
        "warningCode": "ERR_ENDPOINTCONFIG_106",
        "warning": "capping config: max HTTP connections not defined: no limitation by default",
        "scope": {"endpointConfigService": "dataSource", "endpointConfigUrl": CAPPING_BODY["url"]},
    }
    assert created["canDeploy"] == {"validationStatus": "ok", "warnings": [warning]}
    for method in ("GET", "POST"):
        checked = await jo.call(method, f"{CONFIGS}/{uid}/canDeploy", expect=200)
        assert checked.json() == {"canDeploy": created["canDeploy"]}
    deployed = await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    assert deployed.content == b""
    fetched = await result(jo, uid)
    assert (fetched["state"], fetched["hasBeenDeployed"]) == ("deployed", True)
    sandbox_id = await jo.sandbox_id()
    assert fetched["deployedConfig"] == {
        "_id": uid,
        "url": CAPPING_BODY["url"],
        "methods": ["GET"],
        "services": {
            "dataSource": {"maxHttpConnections": -1, "rating": {"maxCallsCount": 500, "periodInMs": 1000}}
        },
        "orgId": jo.tenant.ims_org_id,
        "tenantId": "prod",
        "uid": uid,
        "sandboxName": "prod",
        "sandboxId": sandbox_id,
    }
    assert ISO_MICRO.fullmatch(fetched["metadata"]["lastDeployedAt"])
    listed = (await jo.call("POST", "/list/endpointConfigs", expect=200)).json()["results"]
    assert listed == [fetched]
    undeployed = await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    assert undeployed.content == b""
    fetched = await result(jo, uid)
    assert (fetched["state"], fetched["hasBeenDeployed"]) == ("created", False)
    assert "deployedConfig" not in fetched
    assert (await jo.call("DELETE", f"{CONFIGS}/{uid}", expect=200)).json() == {}
    missing = await jo.call("GET", f"{CONFIGS}/{uid}", expect=404)
    assert jo_error(missing)["message"] == "unknown given Unique ID"


async def test_update_of_a_deployed_config_waits_for_a_redeploy(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    deployed = (await result(jo, uid))["deployedConfig"]
    changed = CAPPING_BODY | {"url": "https://api.example.org/v3/*", "methods": ["POST", "PUT"]}
    updated = (await jo.call("PUT", f"{CONFIGS}/{uid}", changed, expect=200)).json()
    assert (updated["uid"], updated["resStatus"]) == (uid, "updated")
    assert updated["uri"] == f"/voyager/apis/endpointConfigs/{uid}"
    element = updated["updatedElement"]
    assert (element["state"], element["hasBeenDeployed"], element["url"]) == (
        "updated",
        True,
        "https://api.example.org/v3/*",
    )
    assert element["deployedConfig"] == deployed
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    fetched = await result(jo, uid)
    assert fetched["state"] == "deployed"
    assert (fetched["deployedConfig"]["url"], fetched["deployedConfig"]["methods"]) == (
        "https://api.example.org/v3/*",
        ["POST", "PUT"],
    )
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    fetched = await result(jo, uid)
    assert (fetched["state"], fetched["hasBeenDeployed"]) == ("updated", False)


async def test_delete_of_a_deployed_config_is_the_documented_1451(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    refused = await jo.call("DELETE", f"{CONFIGS}/{uid}", expect=500)
    inner = jo_error(refused, stringified=False)
    assert inner == inner | {
        "code": 1451,
        "family": "INPUT_OUTPUT_ERROR",
        "message": "Can't delete a deployed endpoint config. Undeploy it before deleting it",
        "schema": f"{jo.tenant.ims_org_id}_prod_journeyVersions",
    }
    assert "context" in inner
    assert (await result(jo, uid))["state"] == "deployed"
    await jo.call("DELETE", f"{CONFIGS}/{uid}?forceDelete=true", expect=200)
    await jo.call("GET", f"{CONFIGS}/{uid}", expect=404)


async def test_undeploy_of_an_undeployed_config_is_204(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/undeploy", expect=204)
    assert (await result(jo, uid))["state"] == "created"


async def test_an_invalid_config_is_saved_but_cannot_deploy(jo: Jo) -> None:
    body = {"url": "https://api.example*.org:8*0/data/2.5/weather", "services": {"journey": {}}}
    created = await create(jo, body)
    assert created["canDeploy"] == {
        "validationStatus": "error",
        "reason": "3 errors are currently blocking the publication",
        "errors": [
            {
                "errorCode": "ERR_ENDPOINTCONFIG_102",
                "error": "capping config: malformed url: wildchar in url not allowed in host:port",
            },
            {"errorCode": "ERR_ENDPOINTCONFIG_103", "error": "capping config: missing HTTP methods"},
            {
                "errorCode": "ERR_AUTHORING_ENDPOINTCONFIG_1",
                "error": "invalid service name 'journey': must be 'dataSource' or 'action'",
            },
        ],
    }
    uid = created["uid"]
    refused = await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=400)
    inner = jo_error(refused)
    assert inner["code"] == "ERR_ENDPOINTCONFIG_102"
    assert inner["schema"] == "endpointConfigs$prod"
    assert (await result(jo, uid))["hasBeenDeployed"] is False


@pytest.mark.parametrize(
    ("content", "code", "detail"),
    [
        (
            b"{oops",
            "ERR_ENDPOINTCONFIG_112",
            "capping config: can't create endpoint config: expecting a JSON",
        ),
        (
            b'"text"',
            "ERR_ENDPOINTCONFIG_111",
            "capping config: can't create endpoint config: invalid payload",
        ),
        (
            b'{"url": "https://a.test/", "services": {"action": {"maxHttpConnections": "x"}}}',
            "ERR_ENDPOINTCONFIG_111",
            "capping config: can't create endpoint config: invalid payload: services.action.max",
        ),
    ],
)
async def test_bodies_that_cannot_be_stored_are_a_400(jo: Jo, content: bytes, code: str, detail: str) -> None:
    refused = await jo.call("POST", CONFIGS, content=content, expect=400)
    inner = jo_error(refused)
    assert inner["code"] == code
    assert inner["message"].startswith(detail)
    assert (await jo.call("POST", "/list/endpointConfigs", expect=200)).json() == {"results": []}


async def test_configs_belong_to_their_sandbox(jo: Jo) -> None:
    uid = (await create(jo))["uid"]
    dev = await jo.new_sandbox()
    assert (await dev.call("POST", "/list/endpointConfigs", expect=200)).json() == {"results": []}
    await dev.call("GET", f"{CONFIGS}/{uid}", expect=404)
    # Capping is not limited to production sandboxes.
    mine = (await create(dev))["createdElement"]
    assert (mine["sandboxName"], mine["tenantId"]) == (dev.sandbox, dev.sandbox)
    await dev.call("POST", f"{CONFIGS}/{mine['uid']}/deploy", expect=204)
    listed = (await jo.call("POST", "/list/endpointConfigs", expect=200)).json()["results"]
    assert [config["uid"] for config in listed] == [uid]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", CAPPING_BODY),
        ("DELETE", "?forceDelete=true", None),
        ("GET", "/canDeploy", None),
        ("POST", "/canDeploy", None),
        ("POST", "/deploy", None),
        ("POST", "/undeploy", None),
    ],
)
async def test_unknown_uid_is_404(jo: Jo, method: str, suffix: str, body: Any) -> None:
    missing = await jo.call(
        method, f"{CONFIGS}/9e6bbdf4-8e40-4ac8-9e83-1e2cc7f0f1e7{suffix}", body, expect=404
    )
    inner = jo_error(missing)
    assert (inner["message"], inner["schema"]) == ("unknown given Unique ID", "endpointConfigs$prod")


async def test_another_organization_sees_nothing(jo: Jo, make_tenant: Any) -> None:
    uid = (await create(jo))["uid"]
    await jo.call("POST", f"{CONFIGS}/{uid}/deploy", expect=204)
    bob = Jo(jo.client, await make_tenant(), jo.prefix)
    assert (await bob.call("POST", "/list/endpointConfigs", expect=200)).json() == {"results": []}
    for method, suffix in (("GET", ""), ("POST", "/undeploy"), ("DELETE", "?forceDelete=true")):
        await bob.call(method, f"{CONFIGS}/{uid}{suffix}", expect=404)
    assert (await result(jo, uid))["state"] == "deployed"
