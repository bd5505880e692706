"""Another organization, or another sandbox of the same one, sees none of a tenant's Flow Service data."""

from __future__ import annotations

import secrets
from typing import Any

from tests.activation.flowservice.conftest import SFTP_PASSWORD, FlowService, add_selector, report, selector


async def _owned(fs: FlowService) -> dict[str, str]:
    flow_id = await fs.flow()
    flow = await fs.item(f"/flows/{flow_id}")
    target = await fs.item(f"/targetConnections/{flow['targetConnectionIds'][0]}")
    return {
        "flows": flow_id,
        "sourceConnections": flow["sourceConnectionIds"][0],
        "targetConnections": target["id"],
        "connections": target["baseConnectionId"],
        "runs": await fs.run(flow_id),
    }


async def _sees_nothing(owner: FlowService, other: FlowService, owned: dict[str, str]) -> None:
    for resource, entity_id in owned.items():
        answer = await other.call("GET", f"/{resource}/{entity_id}", expect=404)
        assert report(answer)["type"] == resource
        listed = await other.call("GET", f"/{resource}", expect=200)
        assert listed.json()["items"] == []
        assert entity_id not in listed.text
        assert SFTP_PASSWORD not in listed.text
        if resource != "runs":
            rename = [{"op": "replace", "path": "/name", "value": "stolen"}]
            await other.call("PATCH", f"/{resource}/{entity_id}", rename, expect=404, If_Match="*")
            await other.call("DELETE", f"/{resource}/{entity_id}", expect=404)
    await other.call("POST", f"/flows/{owned['flows']}/action?op=disable", expect=404)
    # The owner still has everything, untouched.
    flow = await owner.item(f"/flows/{owned['flows']}")
    assert (flow["name"], flow["state"]) == ("Activate to SFTP", "enabled")


async def test_another_organization_gets_404(fs: FlowService, make_fs: Any) -> None:
    owned = await _owned(fs)
    await _sees_nothing(fs, await make_fs(), owned)


async def test_another_sandbox_gets_404(fs: FlowService) -> None:
    owned = await _owned(fs)
    name = f"dev-{secrets.token_hex(3)}"
    created = await fs.client.post(
        "/v1/sandboxes", json={"name": name, "title": "Dev"}, headers=fs.tenant.headers()
    )
    assert created.status_code == 201, created.text
    await _sees_nothing(fs, FlowService(fs.client, fs.tenant, fs.container, sandbox=name), owned)


async def test_foreign_references_are_refused(fs: FlowService, make_fs: Any) -> None:
    other = await make_fs()
    owned = await _owned(other)
    body = fs.flow_body(owned["sourceConnections"], owned["targetConnections"])
    refused = await fs.call("POST", "/flows", body, expect=400)
    assert report(refused)["rule"] == "unknown_reference"
    target = {
        "name": "t",
        "baseConnectionId": owned["connections"],
        "connectionSpec": {"id": "36965a81-b1c6-401b-99f8-22508f1e6a26", "version": "1.0"},
        "params": {"remotePath": "/x", "fileType": "CSV", "compression": "NONE"},
    }
    assert (
        report(await fs.call("POST", "/targetConnections", target, expect=400))["field"] == "baseConnectionId"
    )
    flow_id = await fs.flow()
    foreign_audience = await other.audience()
    refused = await fs.patch(f"/flows/{flow_id}", add_selector(selector(foreign_audience)), expect=400)
    assert report(refused)["rule"] == "unknown_audience"
