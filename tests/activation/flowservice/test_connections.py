"""Base, source and target connections: CRUD, secrets never shown, JSON Patch with etags, every rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clarion.activation.flowservice import specs
from clarion.activation.flowservice.parameter_rules import MASK
from tests.activation.flowservice.conftest import (
    S3_SECRET,
    SFTP_PASSWORD,
    SSH_KEY,
    FlowService,
    detail,
    report,
    s3_base,
    segment_params,
    sftp_base,
)


async def test_base_connection_crud_masks_secrets(fs: FlowService) -> None:
    connection_id = await fs.create("/connections", sftp_base())
    item = await fs.item(f"/connections/{connection_id}")
    assert item["id"] == connection_id
    assert item["name"] == "SFTP base"
    assert item["connectionSpec"] == {"id": specs.SFTP_SPEC_ID, "version": "1.0"}
    assert item["state"] == "enabled"
    assert item["auth"] == {
        "specName": "SFTP with Password",
        "params": {"domain": "sftp.example", "port": 2222, "username": "alice", "password": MASK},
    }
    assert item["imsOrgId"] == fs.tenant.ims_org_id
    assert item["sandboxName"] == "prod"
    assert item["version"] == item["etag"]
    assert isinstance(item["createdAt"], int)
    assert item["createdAt"] == item["updatedAt"]
    listed = (await fs.call("GET", "/connections", expect=200)).json()
    assert [entry["id"] for entry in listed["items"]] == [connection_id]
    assert SFTP_PASSWORD not in json.dumps(listed)
    await fs.call("DELETE", f"/connections/{connection_id}", expect=202)
    gone = await fs.call("GET", f"/connections/{connection_id}", expect=404)
    assert gone.json()["type"] == "https://ns.adobe.com/aep/errors/FLOW-1439-404"
    assert report(gone)["type"] == "connections"
    assert report(gone)["id"] == connection_id
    assert detail(gone) == (
        f"The requested connections resource {connection_id} is not found. "
        "Verify the resource ID before trying again."
    )
    assert gone.json()["errorMessage"] == gone.json()["errorDetails"] == detail(gone)


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (sftp_base(), SFTP_PASSWORD),
        (s3_base(), S3_SECRET),
        (
            sftp_base(
                auth={
                    "specName": "SSH PublicKey Authentication for sftp",
                    "params": {"host": "sftp.example", "username": "alice", "sshKey": SSH_KEY},
                }
            ),
            SSH_KEY,
        ),
    ],
)
async def test_secrets_never_in_any_response(fs: FlowService, body: dict[str, Any], secret: str) -> None:
    created = await fs.call("POST", "/connections", body, expect=201)
    connection_id = created.json()["id"]
    answers = [
        created,
        await fs.call("GET", f"/connections/{connection_id}", expect=200),
        await fs.call("GET", "/connections", expect=200),
        await fs.call("GET", f"/connections?property=id=={connection_id}", expect=200),
        await fs.patch(
            f"/connections/{connection_id}", [{"op": "replace", "path": "/name", "value": "renamed"}]
        ),
        await fs.call("GET", f"/connections/{connection_id}", expect=200),
    ]
    for answer in answers:
        assert secret not in answer.text
    item = await fs.item(f"/connections/{connection_id}")
    assert MASK in item["auth"]["params"].values()


async def test_aliases_are_stored_under_adobe_names(fs: FlowService) -> None:
    body = sftp_base(
        auth={
            "specName": "SSH PublicKey Authentication for sftp",
            "params": {"host": "sftp.example", "userName": "bob", "sshKey": SSH_KEY, "port": "22"},
        }
    )
    item = await fs.item(f"/connections/{await fs.create('/connections', body)}")
    assert item["auth"] == {
        "specName": "SFTP with SSH Key",
        "params": {"domain": "sftp.example", "port": 22, "username": "bob", "sshKey": MASK},
    }


async def test_adobe_example_with_domain_and_host(fs: FlowService) -> None:
    params = {"domain": "sftp.example", "host": "sftp.example", "username": "u", "password": SFTP_PASSWORD}
    body = sftp_base(auth={"specName": "Basic Authentication for sftp", "params": params})
    item = await fs.item(f"/connections/{await fs.create('/connections', body)}")
    assert item["auth"]["params"]["domain"] == "sftp.example"
    assert "host" not in item["auth"]["params"]


async def test_patch_replaces_auth_and_keeps_masked_secret(fs: FlowService) -> None:
    connection_id = await fs.create("/connections", sftp_base())
    path = f"/connections/{connection_id}"
    before = await fs.item(path)
    answer = (
        await fs.patch(path, [{"op": "replace", "path": "/auth/params/username", "value": "carol"}])
    ).json()
    assert answer["id"] == connection_id
    assert answer["etag"] != before["etag"]
    after = await fs.item(path)
    assert after["auth"]["params"]["username"] == "carol"
    assert after["etag"] == answer["etag"]
    assert after["updatedAt"] >= before["updatedAt"]
    opened = await _opened_password(fs, connection_id)
    assert opened == SFTP_PASSWORD, "the masked password sent back keeps the stored one"
    new_params = {"domain": "other.example", "username": "dan", "password": "new-password-7"}
    await fs.patch(path, [{"op": "replace", "path": "/auth/params", "value": new_params}])
    assert await _opened_password(fs, connection_id) == "new-password-7"


async def _opened_password(fs: FlowService, connection_id: str) -> str:
    from clarion.activation.flowservice import connections
    from clarion.activation.flowservice.repository import FlowServiceRepository

    async with fs.container.unit_of_work() as uow:
        repo = FlowServiceRepository(uow.session, fs.tenant.org_id, await fs.sandbox_id())
        connection = await repo.connection(connection_id, "base")
        assert connection is not None
        return str(connections.opened_auth(connection, fs.container.secrets)["password"])


async def test_patch_needs_the_current_etag(fs: FlowService) -> None:
    connection_id = await fs.create("/connections", sftp_base())
    path = f"/connections/{connection_id}"
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    missing = await fs.call("PATCH", path, rename, expect=400)
    assert missing.json()["type"].endswith("/FLOW-1403-400")
    assert "If-Match" in detail(missing)
    stale = await fs.etag(path)
    await fs.call("PATCH", path, rename, expect=200, If_Match=stale)
    refused = await fs.call("PATCH", path, rename, expect=412, If_Match=stale)
    assert refused.json()["type"].endswith("/FLOW-1404-412")
    assert stale in detail(refused)
    unquoted = (await fs.etag(path)).strip('"')
    await fs.call(
        "PATCH", path, [{"op": "replace", "path": "/name", "value": "again"}], expect=200, If_Match=unquoted
    )
    assert (await fs.item(path))["name"] == "again"


async def test_trailing_slash_paths_of_flow_service_yaml(fs: FlowService) -> None:
    connection_id = await fs.create("/connections", sftp_base())
    path = f"/connections/{connection_id}/"
    rename = [{"op": "replace", "path": "/name", "value": "slash"}]
    await fs.call("PATCH", path, rename, expect=200, If_Match=await fs.etag(f"/connections/{connection_id}"))
    assert (await fs.item(path))["name"] == "slash"
    await fs.call("DELETE", path, expect=202)


async def test_connection_spec_cannot_be_patched(fs: FlowService) -> None:
    connection_id = await fs.create("/connections", sftp_base())
    operations = [{"op": "replace", "path": "/connectionSpec/id", "value": specs.S3_SPEC_ID}]
    refused = await fs.patch(f"/connections/{connection_id}", operations, expect=400)
    assert refused.json()["type"].endswith("/FLOW-1414-400")


async def test_source_connection_crud(fs: FlowService) -> None:
    source_id = await fs.source()
    item = await fs.item(f"/sourceConnections/{source_id}")
    assert item["connectionSpec"]["id"] == specs.PROFILE_STORE_SPEC_ID
    assert item["typeInfo"] == {"type": "ProfileFragments", "id": "ups"}
    await fs.patch(
        f"/sourceConnections/{source_id}", [{"op": "replace", "path": "/description", "value": "All"}]
    )
    assert (await fs.item(f"/sourceConnections/{source_id}"))["description"] == "All"
    await fs.call("DELETE", f"/sourceConnections/{source_id}", expect=202)
    await fs.call("GET", f"/sourceConnections/{source_id}", expect=404)


async def test_target_connection_crud(fs: FlowService) -> None:
    target_id = await fs.target("s3", csvOptions={"delimiter": ";"})
    item = await fs.item(f"/targetConnections/{target_id}")
    assert item["params"] == {
        "bucketName": "exports",
        "path": "clarion/out",
        "fileType": "CSV",
        "compression": "NONE",
        "csvOptions": {"delimiter": ";"},
    }
    assert item["inheritedAttributes"]["baseConnection"]["id"] == item["baseConnectionId"]
    assert item["inheritedAttributes"]["baseConnection"]["connectionSpec"]["id"] == specs.S3_SPEC_ID
    path = f"/targetConnections/{target_id}"
    await fs.patch(path, [{"op": "replace", "path": "/params/compression", "value": "GZIP"}])
    assert (await fs.item(path))["params"]["compression"] == "GZIP"
    refused = await fs.patch(
        path, [{"op": "replace", "path": "/params/fileType", "value": "XML"}], expect=400
    )
    assert report(refused)["field"] == "params.fileType"
    assert (await fs.item(path))["params"]["fileType"] == "CSV", "a refused patch changes nothing"
    base_id = item["baseConnectionId"]
    in_use = await fs.call("DELETE", f"/connections/{base_id}", expect=400)
    assert in_use.json()["type"].endswith("/FLOW-1418-400")
    await fs.call("DELETE", path, expect=202)
    await fs.call("DELETE", f"/connections/{base_id}", expect=202)


async def test_local_folder_accepts_data_landing_zone_ids(fs: FlowService) -> None:
    body = {"name": "DLZ", "connectionSpec": {"id": specs.DATA_LANDING_ZONE_SPEC_ID, "version": "1.0"}}
    base_id = await fs.create("/connections", body)
    target = {
        "name": "DLZ target",
        "baseConnectionId": base_id,
        "connectionSpec": {"id": specs.DATA_LANDING_ZONE_SPEC_ID, "version": "1.0"},
        "params": segment_params(fileType="PARQUET"),
    }
    target_id = await fs.create("/targetConnections", target)
    assert (await fs.item(f"/targetConnections/{target_id}"))["connectionSpec"][
        "id"
    ] == specs.DATA_LANDING_ZONE_SPEC_ID
    assert specs.destination_kind(specs.DATA_LANDING_ZONE_SPEC_ID) == "local"


def _target(base: str, spec: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "t",
        "baseConnectionId": base,
        "connectionSpec": {"id": spec, "version": "1.0"},
        "params": params,
    }


BASE_RULES = [
    ({"auth": None}, "auth", "required"),
    ({"auth": {"specName": "Password please", "params": {}}}, "auth.specName", "unknown_auth_spec"),
    (
        {"connectionSpec": {"id": "00000000-0000-0000-0000-000000000000", "version": "1.0"}},
        "connectionSpec.id",
        "unknown_spec",
    ),
    ({"connectionSpec": {"id": specs.SFTP_SPEC_ID}}, "connectionSpec.version", "missing"),
    ({"name": ""}, "name", "string_too_short"),
    ({"extra": 1}, "extra", "extra_forbidden"),
]


@pytest.mark.parametrize(("change", "field", "rule"), BASE_RULES)
async def test_base_connection_rules(fs: FlowService, change: dict[str, Any], field: str, rule: str) -> None:
    body = {key: value for key, value in {**sftp_base(), **change}.items() if value is not None}
    refused = await fs.call("POST", "/connections", body)
    assert refused.status_code in (400, 422), refused.text
    assert report(refused)["field"] == field
    assert report(refused)["rule"] == rule


AUTH_PARAM_RULES = [
    ({"password": None}, "auth.params.password", "required"),
    ({"domain": None}, "auth.params.domain", "required"),
    ({"port": 70000}, "auth.params.port", "port"),
    ({"port": True}, "auth.params.port", "port"),
    ({"username": ""}, "auth.params.username", "text"),
    ({"password": 5}, "auth.params.password", "type"),
    ({"hostKeyFingerprint": "MD5:ab"}, "auth.params.hostKeyFingerprint", "fingerprint"),
    ({"colour": "blue"}, "auth.params.colour", "unknown_param"),
    ({"host": "twice.example"}, "auth.params.host", "duplicate_param"),
]


@pytest.mark.parametrize(("change", "field", "rule"), AUTH_PARAM_RULES)
async def test_sftp_auth_rules(fs: FlowService, change: dict[str, Any], field: str, rule: str) -> None:
    params = {
        key: value for key, value in {**sftp_base()["auth"]["params"], **change}.items() if value is not None
    }
    refused = await fs.call(
        "POST", "/connections", sftp_base(auth={"specName": "SFTP with Password", "params": params})
    )
    assert refused.status_code == 400, refused.text
    assert (report(refused)["field"], report(refused)["rule"]) == (field, rule)


async def test_s3_auth_rules(fs: FlowService) -> None:
    params = {**s3_base()["auth"]["params"], "endpointUrl": "ftp://nowhere"}
    refused = await fs.call(
        "POST", "/connections", s3_base(auth={"specName": "Access Key", "params": params}), expect=400
    )
    assert report(refused)["field"] == "auth.params.endpointUrl"


async def test_local_folder_takes_no_auth(fs: FlowService) -> None:
    body = {
        "name": "Local",
        "connectionSpec": {"id": specs.LOCAL_SPEC_ID, "version": "1.0"},
        "auth": {"specName": "Basic", "params": {"password": "x"}},
    }
    refused = await fs.call("POST", "/connections", body, expect=400)
    assert report(refused)["rule"] == "not_applicable"


TARGET_RULES = [
    ("s3", {"fileType": None}, "params.fileType", "required"),
    ("s3", {"fileType": "XML"}, "params.fileType", "enum"),
    ("s3", {"compression": "ZIP"}, "params.compression", "enum"),
    ("s3", {"compression": None}, "params.compression", "required"),
    ("s3", {"bucketName": "Not_A_Bucket"}, "params.bucketName", "bucket"),
    ("s3", {"bucketName": None}, "params.bucketName", "required"),
    ("s3", {"path": None}, "params.path", "required"),
    ("s3", {"path": "a/../b"}, "params.path", "folder"),
    ("s3", {"mode": "Client"}, "params.mode", "enum"),
    ("s3", {"csvOptions": {"delimiter": "#"}}, "params.csvOptions.delimiter", "enum"),
    ("s3", {"csvOptions": {"quote": "'"}}, "params.csvOptions.quote", "enum"),
    ("s3", {"csvOptions": {"escape": "/"}}, "params.csvOptions.escape", "enum"),
    ("s3", {"csvOptions": {"nullValue": "NULL"}}, "params.csvOptions.nullValue", "enum"),
    ("s3", {"csvOptions": {"emptyValue": "-"}}, "params.csvOptions.emptyValue", "enum"),
    ("s3", {"csvOptions": {"header": True}}, "params.csvOptions.header", "unknown_param"),
    ("s3", {"fileType": "JSON", "csvOptions": {"delimiter": ","}}, "params.csvOptions", "csv_only"),
    ("s3", {"remotePath": "/x"}, "params.remotePath", "unknown_param"),
    ("sftp", {"remotePath": None}, "params.remotePath", "required"),
    ("sftp", {"remotePath": 7}, "params.remotePath", "type"),
    ("local", {"path": "/etc"}, "params.path", "folder"),
    ("local", {"path": "../up"}, "params.path", "folder"),
]


@pytest.mark.parametrize(("kind", "change", "field", "rule"), TARGET_RULES)
async def test_target_connection_rules(
    fs: FlowService, kind: str, change: dict[str, Any], field: str, rule: str
) -> None:
    bodies = {
        "s3": (s3_base(), specs.S3_SPEC_ID, {"bucketName": "exports", "path": "out"}),
        "sftp": (sftp_base(), specs.SFTP_SPEC_ID, {"remotePath": "/out"}),
        "local": (
            {"name": "L", "connectionSpec": {"id": specs.LOCAL_SPEC_ID, "version": "1.0"}},
            specs.LOCAL_SPEC_ID,
            {},
        ),
    }
    base_body, spec, location = bodies[kind]
    base = await fs.create("/connections", base_body)
    params = {
        key: value for key, value in {**segment_params(**location), **change}.items() if value is not None
    }
    refused = await fs.call("POST", "/targetConnections", _target(base, spec, params), expect=400)
    assert (report(refused)["field"], report(refused)["rule"]) == (field, rule)


async def test_target_needs_a_base_of_the_same_destination(fs: FlowService) -> None:
    sftp = await fs.create("/connections", sftp_base())
    params = segment_params(bucketName="exports", path="out")
    mismatch = await fs.call(
        "POST", "/targetConnections", _target(sftp, specs.S3_SPEC_ID, params), expect=400
    )
    assert report(mismatch)["rule"] == "spec_mismatch"
    unknown = await fs.call(
        "POST", "/targetConnections", _target("nope", specs.S3_SPEC_ID, params), expect=400
    )
    assert report(unknown)["field"] == "baseConnectionId"
    profile = await fs.call(
        "POST", "/targetConnections", _target(sftp, specs.PROFILE_STORE_SPEC_ID, params), expect=400
    )
    assert report(profile)["rule"] == "target_spec"


async def test_empty_body_is_refused(fs: FlowService) -> None:
    for path in ("/connections", "/sourceConnections", "/targetConnections", "/flows"):
        refused = await fs.call("POST", path, {}, expect=400)
        assert refused.json()["type"].endswith("/FLOW-1405-400")


async def test_connection_lists_filter_order_and_page(fs: FlowService) -> None:
    ids = [await fs.create("/connections", sftp_base(name=f"sftp-{index}")) for index in range(3)]
    s3_id = await fs.create("/connections", s3_base(name="s3-0"))
    newest_first = (await fs.call("GET", "/connections", expect=200)).json()["items"]
    assert [item["id"] for item in newest_first] == [s3_id, *reversed(ids)]
    by_spec = (
        await fs.call("GET", f"/connections?property=connectionSpec.id=={specs.S3_SPEC_ID}", expect=200)
    ).json()
    assert [item["id"] for item in by_spec["items"]] == [s3_id]
    by_name = (
        await fs.call("GET", "/connections?property=name==sftp-1,sftp-2&orderby=name", expect=200)
    ).json()
    assert [item["name"] for item in by_name["items"]] == ["sftp-1", "sftp-2"]
    counted = (
        await fs.call("GET", "/connections?property=auth.params.domain==sftp.example&count=true", expect=200)
    ).json()
    assert counted == {"count": 3}
    first = (await fs.call("GET", "/connections?orderby=-name&limit=2", expect=200)).json()
    assert [item["name"] for item in first["items"]] == ["sftp-2", "sftp-1"]
    following = first["_links"]["next"]["href"]
    assert following.startswith("/connections?")
    second = (await fs.client.get(f"/data/foundation/flowservice{following}", headers=fs.headers())).json()
    assert [item["name"] for item in second["items"]] == ["sftp-0", "s3-0"]
    assert second["_links"] == {}
