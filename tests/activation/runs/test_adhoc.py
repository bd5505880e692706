"""Ad-hoc activation end to end: every documented rule, and real files in local, SFTP and S3 destinations."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clarion.activation.flowservice import specs
from clarion.config import Settings
from clarion.runtime import BackgroundServices
from tests.activation.runs.conftest import Activation, run_id_of
from tests.activation.servers import S3Server, SftpServer

MEMBERS = [
    {"person": {"name": {"firstName": "Ada"}}, "loyalty": {"points": 120}},
    {"person": {"name": {"firstName": 'Zoë "Z", Jr.'}}, "loyalty": {"points": 7.5}},
    {"person": {"name": {"firstName": "Alan"}}},
]


def _rows(data: bytes) -> list[list[str]]:
    # Adobe's CSV defaults: "," and '"' with "\" as the escape character.
    reader = csv.reader(io.StringIO(data.decode()), escapechar="\\", doublequote=False)
    return list(reader)


def _check_file(data: bytes, run: dict[str, Any]) -> None:
    header, *rows = _rows(data)
    assert header == [
        "identityMap.email",
        "person.name.firstName",
        "loyalty.points",
        "segmentMembership.status",
    ]
    assert sorted(rows) == [
        ["m0@example.com", "Ada", "120", "realized"],
        ["m1@example.com", 'Zoë "Z", Jr.', "7.5", "realized"],
        ["m2@example.com", "Alan", "null", "realized"],
    ]
    files = run["metrics"]["fileSummary"]["files"]
    assert len(files) == 1
    assert files[0]["records"] == 3
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 3


async def test_adhoc_run_writes_the_audience_to_the_landing_zone(
    activation: Activation, worker: BackgroundServices, settings: Settings
) -> None:
    audience = await activation.audience(MEMBERS, name="VIP")
    flow = await activation.flow("local", [audience])
    response = await activation.adhoc({"activationInfo": {flow: [audience]}})
    assert response.status_code == 200, response.text
    (order,) = response.json()["order"]
    assert order["segment"] == audience
    assert order["order"] == flow
    assert order["statusURL"].endswith(f"/data/foundation/flowservice/runs/{run_id_of(order)}")
    run = await activation.finished(run_id_of(order))
    assert run["metrics"]["statusSummary"]["status"] == "success", run
    assert run["flowId"] == flow
    (entry,) = run["metrics"]["fileSummary"]["files"]
    assert settings.landing_zone is not None
    written = settings.landing_zone / "out" / entry["name"]
    data = written.read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["bytes"] == len(data)
    assert entry["name"].startswith("Local folder") or audience in entry["name"]
    assert entry["name"].endswith(".csv")
    _check_file(data, run)
    # No temporary file stays behind (the folder may also hold files of scheduled runs of other flows).
    assert not [path.name for path in written.parent.iterdir() if path.name.startswith(".")]
    # The audience is free again: a second run is accepted.
    again = await activation.adhoc({"activationInfo": {flow: [audience]}})
    assert again.status_code == 200, again.text
    await activation.finished(run_id_of(again.json()["order"][0]))


async def test_adhoc_to_sftp_and_s3(
    activation: Activation, worker: BackgroundServices, sftp_server: SftpServer, s3_server: S3Server
) -> None:
    audience = await activation.audience(MEMBERS)
    sftp_base = await activation.fs.create(
        "/connections",
        {
            "name": "SFTP",
            "auth": {"specName": "SFTP with Password", "params": sftp_server.adobe_auth()},
            "connectionSpec": {"id": specs.SFTP_SPEC_ID, "version": "1.0"},
        },
    )
    s3_base = await activation.fs.create(
        "/connections",
        {
            "name": "S3",
            "auth": {"specName": "Access Key", "params": s3_server.adobe_auth()},
            "connectionSpec": {"id": specs.S3_SPEC_ID, "version": "1.0"},
        },
    )
    targets = {
        "sftp": (sftp_base, specs.SFTP_SPEC_ID, {"remotePath": "/drop"}),
        "s3": (s3_base, specs.S3_SPEC_ID, {"bucketName": s3_server.bucket, "path": "audiences"}),
    }
    flows = {}
    for kind, (base, spec, location) in targets.items():
        target = await activation.fs.create(
            "/targetConnections",
            {
                "name": kind,
                "baseConnectionId": base,
                "connectionSpec": {"id": spec, "version": "1.0"},
                "params": {"fileType": "CSV", "compression": "GZIP", **location},
            },
        )
        flows[kind] = await activation.flow(kind, [audience], target_id=target)
    response = await activation.adhoc({"activationInfo": {flows["sftp"]: [audience]}})
    assert response.status_code == 200, response.text
    sftp_run = await activation.finished(run_id_of(response.json()["order"][0]))
    assert sftp_run["metrics"]["statusSummary"]["status"] == "success", sftp_run
    (sftp_file,) = sftp_run["metrics"]["fileSummary"]["files"]
    _check_file(gzip.decompress((sftp_server.root / "drop" / sftp_file["name"]).read_bytes()), sftp_run)
    response = await activation.adhoc({"activationInfo": {flows["s3"]: [audience]}})
    assert response.status_code == 200, response.text
    s3_run = await activation.finished(run_id_of(response.json()["order"][0]))
    assert s3_run["metrics"]["statusSummary"]["status"] == "success", s3_run
    (s3_file,) = s3_run["metrics"]["fileSummary"]["files"]
    assert s3_server.object_keys() == [f"audiences/{s3_file['name']}"]
    _check_file(gzip.decompress(s3_server.read(f"audiences/{s3_file['name']}")), s3_run)


async def test_a_network_failure_is_retried_then_the_run_fails_with_the_reason(
    activation: Activation, worker: BackgroundServices, settings: Settings, unused_tcp_port: int
) -> None:
    settings.export_max_attempts = 2
    audience = await activation.audience(MEMBERS[:1])
    base = await activation.fs.create(
        "/connections",
        {
            "name": "SFTP nowhere",
            "auth": {
                "specName": "SFTP with Password",
                "params": {
                    "domain": "127.0.0.1",
                    "port": unused_tcp_port,
                    "username": "u",
                    "password": "p4ss-w0rd",
                },
            },
            "connectionSpec": {"id": specs.SFTP_SPEC_ID, "version": "1.0"},
        },
    )
    target = await activation.fs.create(
        "/targetConnections",
        {
            "name": "nowhere",
            "baseConnectionId": base,
            "connectionSpec": {"id": specs.SFTP_SPEC_ID, "version": "1.0"},
            "params": {"fileType": "CSV", "compression": "NONE", "remotePath": "/x"},
        },
    )
    flow = await activation.flow("sftp", [audience], target_id=target)
    response = await activation.adhoc({"activationInfo": {flow: [audience]}})
    run = await activation.finished(run_id_of(response.json()["order"][0]))
    summary = run["metrics"]["statusSummary"]
    assert summary["status"] == "failed"
    assert summary["errors"][0]["code"] == "ACTIVATION_BATCH-NETWORK"
    assert "127.0.0.1" in summary["errors"][0]["message"]
    assert "p4ss-w0rd" not in str(run)
    async with activation.container.unit_of_work() as uow:
        from clarion.models.activation import FlowRun

        stored = await uow.session.get(FlowRun, run["id"])
        assert stored is not None
        assert stored.attempts == 2
        assert len(stored.errors) == 2


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_v1_needs_export_ids_that_exist(activation: Activation) -> None:
    audience = await activation.audience(MEMBERS[:1])
    flow = await activation.flow("local", [audience])
    missing = await activation.adhoc({"activationInfo": {flow: [audience]}}, version=1)
    assert missing.status_code == 400
    assert "exportIds is required" in missing.json()["message"]
    unknown = await activation.adhoc(
        {"activationInfo": {flow: [audience]}, "exportIds": ["424242"]}, version=1
    )
    assert unknown.status_code == 404
    job = await activation.client.post(
        "/data/core/ups/export/jobs",
        json={"filter": {"segments": [{"segmentId": audience}]}, "destination": {"datasetId": "ds1"}},
        headers=activation.fs.headers(),
    )
    assert job.status_code == 200, job.text
    assert isinstance(job.json()["id"], int)
    accepted = await activation.adhoc(
        {"activationInfo": {flow: [audience]}, "exportIds": [str(job.json()["id"])]}, version=1
    )
    assert accepted.status_code == 200, accepted.text


async def test_more_than_80_audiences_are_refused(activation: Activation) -> None:
    flow = await activation.flow("local", [])
    response = await activation.adhoc({"activationInfo": {flow: [f"a{i}" for i in range(81)]}})
    assert response.status_code == 400
    assert "at most 80 audiences" in response.json()["message"]


async def test_unmapped_or_out_of_range_audiences_use_the_documented_message(activation: Activation) -> None:
    mapped = await activation.audience([], name="Mapped")
    unmapped = await activation.audience([], name="Lonely")
    ended = await activation.audience([], name="Ended")
    flow = await activation.flow("local", [mapped])
    past = {
        "frequency": "DAILY",
        "startDate": "2026-01-01",
        "endDate": "2026-02-01",
        "startTime": "00:00",
        "triggerType": "SCHEDULED",
    }
    from tests.activation.flowservice.conftest import add_selector, selector

    await activation.fs.patch(f"/flows/{flow}", add_selector(selector(ended, schedule=past)))
    response = await activation.adhoc({"activationInfo": {flow: [mapped, unmapped, ended]}})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Segments Lonely, Ended are not part of this dataflow or out of schedule range!"
    }


async def test_first_activation_delay(activation: Activation, settings: Settings) -> None:
    settings.activation_first_run_delay_seconds = 3600
    audience = await activation.audience([])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = {"frequency": "DAILY", "startDate": tomorrow, "startTime": "00:00", "triggerType": "SCHEDULED"}
    future_flow = await activation.flow("local", [audience], schedule=future)
    response = await activation.adhoc({"activationInfo": {future_flow: [audience]}})
    # Not started yet: outside the schedule range.
    assert response.status_code == 400
    assert "out of schedule range" in response.json()["message"]
    recent = await activation.audience([])
    flow = await activation.flow("local", [recent])  # added just now to a running daily schedule
    response = await activation.adhoc({"activationInfo": {flow: [recent]}})
    assert response.status_code == 400
    assert "at least 60 minutes" in response.json()["message"]


async def test_one_running_job_per_audience(activation: Activation) -> None:
    audience = await activation.audience(MEMBERS[:1])
    flow = await activation.flow("local", [audience])
    other_flow = await activation.flow("local", [audience])
    first = await activation.adhoc({"activationInfo": {flow: [audience]}})  # no worker: it stays waiting
    assert first.status_code == 200
    run_id = run_id_of(first.json()["order"][0])
    second = await activation.adhoc({"activationInfo": {other_flow: [audience]}})
    assert second.status_code == 400
    assert second.json() == {
        "message": f"Run already going on for audience {audience} for order {flow} with run id {run_id}"
    }
    # Nothing of the refused request was written.
    runs = (await activation.fs.call("GET", f"/runs?property=flowId=={other_flow}", expect=200)).json()
    assert runs["items"] == []


async def test_refused_while_a_scheduled_export_of_the_dataflow_runs(activation: Activation) -> None:
    audience = await activation.audience([])
    flow = await activation.flow("local", [audience])
    scheduled = await activation.fs.run(
        flow, trigger="scheduled", status="processing", scheduled_for=datetime.now(UTC) - timedelta(minutes=1)
    )
    response = await activation.adhoc({"activationInfo": {flow: [audience]}})
    assert response.status_code == 400
    assert scheduled in response.json()["message"]
    assert "cannot run in parallel with a scheduled export" in response.json()["message"]


async def test_unknown_dataflow_is_404_and_bad_bodies_are_400(activation: Activation) -> None:
    response = await activation.adhoc({"activationInfo": {"00000000-0000-0000-0000-000000000000": ["a"]}})
    assert response.status_code == 404
    for body in ({}, {"activationInfo": []}, {"activationInfo": {"f": []}}, [1]):
        response = await activation.adhoc(body)  # type: ignore[arg-type]
        assert response.status_code == 400, body
        assert "activationInfo" in response.json()["message"] or "object" in response.json()["message"]


async def test_a_dataflow_that_maps_no_field_exports_email_and_status(
    activation: Activation, worker: BackgroundServices, settings: Settings
) -> None:
    audience = await activation.audience(MEMBERS[:2])
    body = activation.fs.flow_body(
        await activation.fs.source(), await activation.fs.target("local"), spec=specs.LOCAL_FLOW_SPEC_ID
    )
    flow = await activation.fs.create("/flows", body)
    from tests.activation.flowservice.conftest import add_selector, selector
    from tests.activation.runs.conftest import PAST_DAILY

    await activation.fs.patch(f"/flows/{flow}", add_selector(selector(audience, schedule=PAST_DAILY)))
    response = await activation.adhoc({"activationInfo": {flow: [audience]}})
    run = await activation.finished(run_id_of(response.json()["order"][0]))
    assert run["metrics"]["statusSummary"]["status"] == "success", run
    (entry,) = run["metrics"]["fileSummary"]["files"]
    assert settings.landing_zone is not None
    header, *rows = _rows((settings.landing_zone / "out" / entry["name"]).read_bytes())
    assert header == ["identityMap.email", "segmentMembership.status"]
    assert sorted(rows) == [["m0@example.com", "realized"], ["m1@example.com", "realized"]]


async def test_a_disabled_dataflow_is_refused(activation: Activation) -> None:
    audience = await activation.audience([])
    flow = await activation.flow("local", [audience])
    await activation.fs.call(
        "POST",
        f"/flows/{flow}/action?op=disable",
        expect=200,
        If_Match=await activation.fs.etag(f"/flows/{flow}"),
    )
    response = await activation.adhoc({"activationInfo": {flow: [audience]}})
    assert response.status_code == 400
    assert response.json() == {
        "message": f"Dataflow {flow} is disabled: enable it before an ad-hoc activation"
    }
