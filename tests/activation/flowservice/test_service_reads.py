"""The reads the run executor, the scheduler and ad-hoc activation call (flowservice/service.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from clarion.activation.errors import FlowResourceNotFound
from clarion.activation.flowservice import service
from clarion.activation.flowservice.schemas import Schedule
from clarion.tenancy.principal import Principal, job_principal
from tests.activation.flowservice.conftest import SFTP_PASSWORD, FlowService, add_selector, selector


async def _principal(fs: FlowService) -> Principal:
    return job_principal(fs.tenant.org_id, await fs.sandbox_id())


async def test_load_flow_and_selectors(fs: FlowService) -> None:
    audience = await fs.audience("VIPs")
    flow_id = await fs.flow()
    incremental = selector(
        audience,
        exportMode="FIRST_FULL_THEN_INCREMENTAL",
        schedule={
            "frequency": "EVERY_6_HOURS",
            "startDate": "2030-07-22",
            "endDate": "2030-08-01",
            "startTime": "06:00",
        },
    )
    before = datetime.now(UTC).replace(microsecond=0)
    await fs.patch(f"/flows/{flow_id}", add_selector(incremental))
    async with fs.container.unit_of_work() as uow:
        flow = await service.load_flow(uow, await _principal(fs), flow_id)
        with pytest.raises(FlowResourceNotFound):
            await service.load_flow(uow, await _principal(fs), "nope")
    [found] = service.selectors(flow)
    assert found.segment_id == audience
    assert found.name == "VIPs"
    assert found.export_mode == "FIRST_FULL_THEN_INCREMENTAL"
    assert found.filename_template == "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
    assert found.schedule == Schedule(
        frequency="EVERY_6_HOURS",
        start_date=date(2030, 7, 22),
        end_date=date(2030, 8, 1),
        start_time=time(6, 0),
        trigger_type=None,
    )
    assert before <= found.added_at <= datetime.now(UTC)


async def test_target_of_opens_secrets_and_merges_params(fs: FlowService) -> None:
    flow_id = await fs.flow("sftp")
    async with fs.container.unit_of_work() as uow:
        flow = await service.load_flow(uow, await _principal(fs), flow_id)
        target = await service.target_of(uow, fs.container.secrets, flow)
    assert target.kind == "sftp"
    assert target.destination_name == "SFTP"
    assert target.auth == {
        "domain": "sftp.example",
        "port": 2222,
        "username": "alice",
        "password": SFTP_PASSWORD,
    }
    assert target.params == {
        "domain": "sftp.example",
        "port": 2222,
        "username": "alice",
        "remotePath": "/exports",
        "fileType": "CSV",
        "compression": "NONE",
    }
    assert "password" not in target.params


async def test_local_and_s3_targets(fs: FlowService) -> None:
    local_id, s3_id = await fs.flow("local"), await fs.flow("s3")
    async with fs.container.unit_of_work() as uow:
        principal = await _principal(fs)
        local = await service.target_of(
            uow, fs.container.secrets, await service.load_flow(uow, principal, local_id)
        )
        s3 = await service.target_of(
            uow, fs.container.secrets, await service.load_flow(uow, principal, s3_id)
        )
    assert (local.kind, local.auth, local.params["path"]) == ("local", {}, "out")
    assert s3.kind == "s3"
    assert s3.params["bucketName"] == "exports"
    assert s3.params["endpointUrl"] == "http://127.0.0.1:9000"
    assert s3.auth["s3SecretKey"] != "********"


async def test_export_shape(fs: FlowService) -> None:
    body = fs.flow_body(
        await fs.source(),
        await fs.target("sftp", fileType="CSV", compression="GZIP", csvOptions={"delimiter": "|"}),
    )
    params = body["transformations"][0]["params"]
    params["profileMapping"] = {
        "mappings": [
            {"source": "person.name.firstName"},
            {"source": "identityMap.email", "destination": "Email"},
            {"source": "person.name.firstName"},
        ]
    }
    params["primaryFields"] = [{"fieldType": "ATTRIBUTE", "attributePath": "personalEmail.address"}]
    params["mandatoryFields"] = ["ECID", "person.name.lastName"]
    params["profileSelectors"] = {"selectors": [{"type": "JSON_PATH", "value": {"path": "loyalty.points"}}]}
    flow_id = await fs.create("/flows", body)
    async with fs.container.unit_of_work() as uow:
        shape = await service.export_shape(uow, await service.load_flow(uow, await _principal(fs), flow_id))
    assert shape.attributes == [
        "loyalty.points",
        "person.name.firstName",
        "personalEmail.address",
        "person.name.lastName",
    ]
    assert shape.identities == ["email", "ECID"]
    assert shape.mandatory == ["ECID", "person.name.lastName"]
    assert shape.primary == ["personalEmail.address"]
    assert (shape.file_type, shape.compression) == ("CSV", "GZIP")
    assert shape.csv_options == {
        "delimiter": "|",
        "quote": '"',
        "escape": "\\",
        "nullValue": "null",
        "emptyValue": "",
    }


async def test_flows_with_schedules_are_the_enabled_ones(fs: FlowService, make_fs: object) -> None:
    enabled, disabled = await fs.flow(name="on"), await fs.flow(name="off")
    await fs.call("POST", f"/flows/{disabled}/action?op=disable", expect=200)
    async with fs.container.unit_of_work() as uow:
        ids = {flow.id for flow in await service.flows_with_schedules(uow)}
    assert enabled in ids
    assert disabled not in ids
