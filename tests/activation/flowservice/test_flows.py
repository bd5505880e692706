"""Dataflows: create, read, JSON Patch of selectors under etags, enable/disable, delete, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clarion.activation.flowservice import specs
from tests.activation.flowservice.conftest import FlowService, add_selector, detail, report, selector


async def test_create_and_read(fs: FlowService) -> None:
    source_id, target_id = await fs.source(), await fs.target("sftp")
    flow_id = await fs.create("/flows", fs.flow_body(source_id, target_id))
    flow = await fs.item(f"/flows/{flow_id}")
    assert flow["name"] == "Activate to SFTP"
    assert flow["description"] == "Nightly files"
    assert flow["flowSpec"] == {"id": specs.SFTP_FLOW_SPEC_ID, "version": "1.0"}
    assert flow["state"] == "enabled"
    assert flow["sourceConnectionIds"] == [source_id]
    assert flow["targetConnectionIds"] == [target_id]
    assert flow["transformations"] == [
        {
            "name": "GeneralTransform",
            "params": {
                "segmentSelectors": {"selectors": []},
                "mandatoryFields": [],
                "primaryFields": [],
                "profileMapping": {},
            },
        }
    ]
    inherited = flow["inheritedAttributes"]
    assert inherited["properties"] == {"isDestinationFlow": True}
    assert inherited["sourceConnections"][0]["connectionSpec"]["id"] == specs.PROFILE_STORE_SPEC_ID
    assert inherited["targetConnections"][0]["connectionSpec"]["id"] == specs.SFTP_SPEC_ID
    assert inherited["targetConnections"][0]["baseConnection"]["connectionSpec"]["id"] == specs.SFTP_SPEC_ID
    assert flow["runs"] == f"/runs?property=flowId=={flow_id}"
    assert flow["etag"] == flow["version"]
    assert "lastRunDetails" not in flow  # Adobe's flows show it once they have run


async def test_last_run_details(fs: FlowService, make_fs: Any) -> None:
    t0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    ran = await fs.flow(name="ran")
    await fs.flow(name="idle")
    await fs.run(ran, created_at=t0, status="failed", started_at=t0, completed_at=t0 + timedelta(seconds=1))
    newest = await fs.run(ran, created_at=t0 + timedelta(hours=1), status="success", started_at=t0)
    other = await make_fs()
    other_flow = await other.flow()
    await other.run(other_flow, created_at=t0 + timedelta(hours=2))
    details = {"id": newest, "state": "success", "startedAtUTC": int(t0.timestamp() * 1000)}
    assert (await fs.item(f"/flows/{ran}"))["lastRunDetails"] == details
    listed = {item["name"]: item for item in (await fs.call("GET", "/flows", expect=200)).json()["items"]}
    assert listed["ran"]["lastRunDetails"] == details
    assert "lastRunDetails" not in listed["idle"]
    started_since = f"/flows?property=lastRunDetails.startedAtUTC>={int(t0.timestamp() * 1000)}"
    assert [item["id"] for item in (await fs.call("GET", started_since)).json()["items"]] == [ran]
    # Another organization's runs stay its own.
    assert (await other.item(f"/flows/{other_flow}"))["lastRunDetails"]["state"] == "waiting"
    await other.call("GET", f"/flows/{ran}", expect=404)


async def test_create_with_selectors_stamps_system_fields(fs: FlowService) -> None:
    audience = await fs.audience("Loyal buyers")
    body = fs.flow_body(await fs.source(), await fs.target())
    body["transformations"][0]["params"]["segmentSelectors"]["selectors"] = [
        selector(audience, createTime="1", updateTime="2")
    ]
    flow = await fs.item(f"/flows/{await fs.create('/flows', body)}")
    value = flow["transformations"][0]["params"]["segmentSelectors"]["selectors"][0]["value"]
    assert value["name"] == "Loyal buyers", "the audience's name fills an absent name"
    assert value["createTime"] == value["updateTime"]
    assert value["createTime"] not in ("1", "2"), "system fields are not the client's"
    assert int(value["createTime"]) > 1_700_000_000


async def test_patch_adds_and_removes_selectors_with_etags(fs: FlowService) -> None:
    flow_id = await fs.flow()
    path = f"/flows/{flow_id}"
    first, second = await fs.audience(), await fs.audience()
    etag0 = await fs.etag(path)
    answer = (await fs.call("PATCH", path, add_selector(selector(first)), expect=200, If_Match=etag0)).json()
    assert answer["id"] == flow_id
    assert answer["etag"] != etag0
    stale = await fs.call("PATCH", path, add_selector(selector(second)), expect=412, If_Match=etag0)
    assert stale.json()["type"].endswith("/FLOW-1404-412")
    await fs.call("PATCH", path, add_selector(selector(second)), expect=200, If_Match=answer["etag"])
    flow = await fs.item(path)
    ids = [
        item["value"]["id"] for item in flow["transformations"][0]["params"]["segmentSelectors"]["selectors"]
    ]
    assert ids == [first, second]
    created = flow["transformations"][0]["params"]["segmentSelectors"]["selectors"][0]["value"]["createTime"]
    remove = [{"op": "remove", "path": "/transformations/0/params/segmentSelectors/selectors/1"}]
    await fs.patch(path, remove)
    after = (await fs.item(path))["transformations"][0]["params"]["segmentSelectors"]["selectors"]
    assert [item["value"]["id"] for item in after] == [first]
    assert after[0]["value"]["createTime"] == created, "kept on later patches"


async def test_patch_keeps_create_time_and_refreshes_update_time_on_change(fs: FlowService) -> None:
    audience = await fs.audience()
    flow_id = await fs.flow()
    path = f"/flows/{flow_id}"
    await fs.patch(path, add_selector(selector(audience)))
    stored = (await fs.item(path))["transformations"][0]["params"]["segmentSelectors"]["selectors"][0][
        "value"
    ]
    changed = {
        **stored,
        "createTime": "5",
        "updateTime": "5",
        "schedule": {**stored["schedule"], "startTime": "05:00"},
    }
    operations = [
        {
            "op": "replace",
            "path": "/transformations/0/params/segmentSelectors/selectors/0/value",
            "value": changed,
        }
    ]
    await fs.patch(path, operations)
    value = (await fs.item(path))["transformations"][0]["params"]["segmentSelectors"]["selectors"][0]["value"]
    assert value["createTime"] == stored["createTime"]
    assert int(value["updateTime"]) >= int(stored["updateTime"])
    assert value["schedule"]["startTime"] == "05:00"


async def test_file_name_template_alias_is_emitted_as_filename_template(fs: FlowService) -> None:
    audience = await fs.audience()
    flow_id = await fs.flow()
    template = "%DESTINATION%_%SEGMENT_ID%_%TIMESTAMP%"
    value = selector(audience)
    del value["value"]["filenameTemplate"]
    value["value"]["fileNameTemplate"] = template
    await fs.patch(f"/flows/{flow_id}", add_selector(value))
    stored = (await fs.item(f"/flows/{flow_id}"))["transformations"][0]["params"]["segmentSelectors"][
        "selectors"
    ][0]
    assert stored["value"]["filenameTemplate"] == template
    assert "fileNameTemplate" not in stored["value"]


async def test_default_file_name_template(fs: FlowService) -> None:
    audience = await fs.audience()
    flow_id = await fs.flow()
    value = selector(audience)
    del value["value"]["filenameTemplate"]
    await fs.patch(f"/flows/{flow_id}", add_selector(value))
    stored = (await fs.item(f"/flows/{flow_id}"))["transformations"][0]["params"]["segmentSelectors"][
        "selectors"
    ][0]
    assert (
        stored["value"]["filenameTemplate"] == "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
    )


async def test_refused_patch_changes_nothing(fs: FlowService) -> None:
    flow_id = await fs.flow()
    path = f"/flows/{flow_id}"
    before = await fs.item(path)
    operations = [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {
            "op": "add",
            "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": selector("missing"),
        },
    ]
    await fs.patch(path, operations, expect=400)
    assert await fs.item(path) == before


async def test_patch_operations(fs: FlowService) -> None:
    flow_id = await fs.flow()
    path = f"/flows/{flow_id}"
    passes = [
        {"op": "test", "path": "/name", "value": "Activate to SFTP"},
        {"op": "replace", "path": "/name", "value": "B"},
    ]
    await fs.patch(path, passes)
    assert (await fs.item(path))["name"] == "B"
    failing = [
        {"op": "test", "path": "/name", "value": "A"},
        {"op": "replace", "path": "/name", "value": "C"},
    ]
    refused = await fs.patch(path, failing, expect=400)
    assert report(refused)["rule"] == "test_failed"
    move = await fs.patch(path, [{"op": "move", "from": "/name", "path": "/description"}], expect=400)
    assert move.json()["type"].endswith("/FLOW-1434-400")
    assert "Unsupported operation 'move'" in detail(move)
    missing = await fs.patch(path, [{"op": "remove", "path": "/transformations/3"}], expect=400)
    assert missing.json()["type"].endswith("/FLOW-1455-400")
    read_only = await fs.patch(
        path, [{"op": "replace", "path": "/flowSpec/id", "value": specs.S3_FLOW_SPEC_ID}], expect=400
    )
    assert report(read_only)["rule"] == "read_only"
    upper = [{"op": "REPLACE", "path": "/description", "value": "upper-case op"}]
    await fs.patch(path, upper)
    assert (await fs.item(path))["description"] == "upper-case op"
    bodies: list[Any] = [[], {"op": "add"}, None]
    for body in bodies:
        await fs.patch(path, body, expect=400)


async def test_enable_disable(fs: FlowService) -> None:
    flow_id = await fs.flow()
    path = f"/flows/{flow_id}"
    etag = await fs.etag(path)
    answer = (await fs.call("POST", f"{path}/action?op=disable", expect=200)).json()
    assert answer["etag"] != etag
    assert (await fs.item(path))["state"] == "disabled"
    await fs.call("POST", f"{path}/action?op=ENABLE", expect=200, If_Match=answer["etag"])
    assert (await fs.item(path))["state"] == "enabled"
    stale = await fs.call("POST", f"{path}/action?op=disable", expect=412, If_Match=answer["etag"])
    assert stale.json()["type"].endswith("/FLOW-1404-412")
    await fs.call("POST", f"{path}/action?op=pause", expect=400)
    listed = (await fs.call("GET", "/flows?property=state==enabled&count=true", expect=200)).json()
    assert listed == {"count": 1}


async def test_delete(fs: FlowService) -> None:
    flow_id = await fs.flow()
    flow = await fs.item(f"/flows/{flow_id}")
    in_use = await fs.call("DELETE", f"/targetConnections/{flow['targetConnectionIds'][0]}", expect=400)
    assert in_use.json()["type"].endswith("/FLOW-1447-400")
    run_id = await fs.run(flow_id)
    await fs.call("DELETE", f"/flows/{flow_id}", expect=202)
    gone = await fs.call("GET", f"/flows/{flow_id}", expect=404)
    assert gone.json()["type"] == "https://ns.adobe.com/aep/errors/FLOW-1439-404"
    assert report(gone) | {"request-id": ""} == {
        "detailed-message": f"The requested flows resource {flow_id} is not found. "
        "Verify the resource ID before trying again.",
        "id": flow_id,
        "type": "flows",
        "request-id": "",
    }
    await fs.call("GET", f"/runs/{run_id}", expect=404)
    await fs.call("DELETE", f"/targetConnections/{flow['targetConnectionIds'][0]}", expect=202)


async def test_not_found_everywhere(fs: FlowService) -> None:
    for method, path, body in (
        ("GET", "/flows/nope", None),
        ("PATCH", "/flows/nope", [{"op": "replace", "path": "/name", "value": "x"}]),
        ("DELETE", "/flows/nope", None),
        ("POST", "/flows/nope/action?op=enable", None),
        ("GET", "/runs/nope", None),
        ("GET", "/targetConnections/nope", None),
        ("PATCH", "/sourceConnections/nope", [{"op": "replace", "path": "/name", "value": "x"}]),
        ("DELETE", "/connections/nope", None),
        ("GET", "/connectionSpecs/nope", None),
        ("GET", "/flowSpecs/nope", None),
    ):
        response = await fs.call(method, path, body, expect=404, If_Match='"x"')
        assert response.json()["type"].endswith("/FLOW-1439-404"), (method, path)
        assert report(response)["id"] == "nope"


async def test_flow_lists(fs: FlowService) -> None:
    audience = await fs.audience()
    sftp_flow = await fs.flow("sftp", name="one")
    s3_flow = await fs.flow("s3", name="two")
    await fs.patch(f"/flows/{sftp_flow}", add_selector(selector(audience)))
    newest_change = (await fs.call("GET", "/flows", expect=200)).json()["items"]
    assert [item["id"] for item in newest_change] == [sftp_flow, s3_flow]
    by_audience = (
        await fs.call(
            "GET",
            f"/flows?property=transformations[].params.segmentSelectors.selectors[].value.id=={audience}",
        )
    ).json()
    assert [item["id"] for item in by_audience["items"]] == [sftp_flow]
    by_destination = (
        await fs.call(
            "GET",
            f"/flows?property=inheritedAttributes.targetConnections[].connectionSpec.id=={specs.S3_SPEC_ID}",
        )
    ).json()
    assert [item["id"] for item in by_destination["items"]] == [s3_flow]
    by_spec = (
        await fs.call("GET", f"/flows?property=flowSpec.id=={specs.S3_FLOW_SPEC_ID}&orderby=name")
    ).json()
    assert [item["id"] for item in by_spec["items"]] == [s3_flow]
    destination_flows = (
        await fs.call(
            "GET", "/flows?property=inheritedAttributes.properties.isDestinationFlow==true&count=true"
        )
    ).json()
    assert destination_flows == {"count": 2}
    paged = (await fs.call("GET", "/flows?orderby=name&limit=1")).json()
    assert [item["name"] for item in paged["items"]] == ["one"]
    assert "continuationToken=" in paged["_links"]["next"]["href"]


async def test_list_parameter_errors(fs: FlowService) -> None:
    cases: list[tuple[str, str]] = [
        ("/flows?limit=101", "/FLOW-1100-400"),
        ("/flows?limit=0", "/FLOW-1100-400"),
        ("/flows?limit=5&count=true", "/FLOW-1401-400"),
        ("/flows?orderby=colour", "/FLOW-1433-400"),
        ("/flows?orderby=na,me", "/FLOW-1432-400"),
        ("/flows?property=createdAt==", "/FLOW-1453-400"),
        ("/flows?property=createdAt>=1,2", "/FLOW-1443-400"),
        ("/flows?property=createdAt>=yesterday", "/FLOW-1452-400"),
        ("/flows?property=name~x", "/FLOW-1450-400"),
        ("/flows?colour", "/FLOW-1451-400"),
        ("/flows?continuationToken=garbage", "/FLOW-1100-400"),
        ("/flows?count=maybe", "/FLOW-1100-400"),
    ]
    for path, code in cases:
        response = await fs.call("GET", path, expect=400)
        assert response.json()["type"].endswith(code), (path, response.json())


async def test_specs(fs: FlowService) -> None:
    listed = (await fs.call("GET", "/connectionSpecs", expect=200)).json()["items"]
    assert {item["id"] for item in listed} == {
        specs.SFTP_SPEC_ID,
        specs.S3_SPEC_ID,
        specs.LOCAL_SPEC_ID,
        specs.PROFILE_STORE_SPEC_ID,
    }
    local = await fs.item(f"/connectionSpecs/{specs.DATA_LANDING_ZONE_SPEC_ID}")
    assert local["name"] == "Local folder (Clarion)"
    assert local["id"] == specs.LOCAL_SPEC_ID
    sftp = await fs.item(f"/connectionSpecs/{specs.SFTP_SPEC_ID}")
    assert [auth["name"] for auth in sftp["authSpec"]] == ["SFTP with Password", "SFTP with SSH Key"]
    assert sftp["authSpec"][0]["spec"]["properties"]["password"]["format"] == "password"
    assert "remotePath" in sftp["targetSpec"]["spec"]["required"]
    s3 = await fs.item(f"/connectionSpecs/{specs.S3_SPEC_ID}")
    assert {"endpointUrl", "region"} <= set(s3["authSpec"][0]["spec"]["properties"])
    assert s3["targetSpec"]["spec"]["properties"]["csvOptions"]["properties"]["delimiter"]["enum"] == [
        ",",
        "\t",
        "|",
        ";",
        ":",
    ]
    named = (await fs.call("GET", "/connectionSpecs?property=name==SFTP", expect=200)).json()["items"]
    assert [item["id"] for item in named] == [specs.SFTP_SPEC_ID]
    flows = (await fs.call("GET", "/flowSpecs?orderby=name", expect=200)).json()["items"]
    assert [item["name"] for item in flows] == ["Amazon S3", "Local folder (Clarion)", "SFTP"]
    dlz = await fs.item(f"/flowSpecs/{specs.DATA_LANDING_ZONE_FLOW_SPEC_ID}")
    assert dlz["targetConnectionSpecIds"] == [specs.LOCAL_SPEC_ID, specs.DATA_LANDING_ZONE_SPEC_ID]
    assert dlz["sourceConnectionSpecIds"] == [specs.PROFILE_STORE_SPEC_ID]


async def test_export_shape_fields_are_accepted(fs: FlowService) -> None:
    body = fs.flow_body(await fs.source(), await fs.target())
    params: dict[str, Any] = body["transformations"][0]["params"]
    params["mandatoryFields"] = ["ECID", "person.name.lastName"]
    params["primaryFields"] = [{"fieldType": "IDENTITY", "identityNamespace": "email"}]
    params["profileMapping"] = {
        "mappings": [
            {"source": "person.name.firstName"},
            {"source": "identityMap.email", "destination": "Email"},
        ]
    }
    flow = await fs.item(f"/flows/{await fs.create('/flows', body)}")
    stored = flow["transformations"][0]["params"]
    assert stored["profileMapping"]["mappings"][0] == {
        "source": "person.name.firstName",
        "destination": "person.name.firstName",
    }
    assert stored["primaryFields"] == [{"fieldType": "IDENTITY", "identityNamespace": "email"}]
