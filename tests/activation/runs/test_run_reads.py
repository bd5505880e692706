"""The runs read API: the contract's run shape, filters (both status spellings), order, paging, count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clarion.activation.flowservice import specs
from clarion.activation.runs.repository import RunRepository
from clarion.activation.runs.views import PUBLISHER_ACTIVITY, XDM_ACTIVITY, run_view
from tests.activation.flowservice.conftest import FlowService, report

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def success_metrics(segment: str, rows: int) -> dict[str, Any]:
    """Metrics as the exporter writes them (contract §2.3)."""
    return {
        "durationSummary": {"startedAtUTC": _ms(T0), "completedAtUTC": _ms(T0 + timedelta(seconds=5))},
        "sizeSummary": {"inputBytes": 900, "outputBytes": 900},
        "recordSummary": {
            "inputRecordCount": rows,
            "createdRecordCount": rows,
            "outputRecordCount": rows,
            "skippedRecordCount": 0,
            "sourceSummaries": [{"id": segment, "inputRecordCount": rows, "skippedRecordCount": 0}],
            "targetSummaries": [
                {"id": "t", "entitySummaries": [{"id": f"segment:{segment}", "outputRecordCount": rows}]}
            ],
        },
        "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
        "statusSummary": {"status": "success"},
    }


async def test_run_shape(fs: FlowService) -> None:
    flow_id = await fs.flow()
    audience = await fs.audience()
    run_id = await fs.run(
        flow_id,
        created_at=T0,
        status="success",
        segment_ids=[audience],
        started_at=T0,
        completed_at=T0 + timedelta(seconds=5),
        metrics=success_metrics(audience, 12),
    )
    body = (await fs.call("GET", f"/runs/{run_id}", expect=200)).json()
    assert set(body) == {"items", "_links"}
    assert body["_links"] == {}
    run = body["items"][0]
    assert run["id"] == run_id
    assert run["flowId"] == flow_id
    assert run["flowSpec"] == {"id": specs.SFTP_FLOW_SPEC_ID, "version": "1.0"}
    assert run["createdAt"] == _ms(T0)
    assert run["imsOrgId"] == fs.tenant.ims_org_id
    assert run["sandboxId"] == await fs.sandbox_id()
    assert run["sandboxName"] == "prod"
    assert (run["createdBy"], run["createdClient"]) == ("clarion-worker", "clarion")
    assert run["etag"].startswith('"')
    metrics = run["metrics"]
    assert metrics["recordSummary"] == success_metrics(audience, 12)["recordSummary"]
    assert metrics["statusSummary"]["status"] == "success"
    assert [activity["name"] for activity in run["activities"]] == [XDM_ACTIVITY, PUBLISHER_ACTIVITY]
    assert metrics["statusSummary"]["activityRefs"] == [activity["id"] for activity in run["activities"]]
    assert run["activities"][0]["recordSummary"]["outputRecordCount"] == 12
    assert run["activities"][1]["fileSummary"] == {"outputFileCount": 1}
    assert run["_links"]["self"]["href"].endswith(f"/data/foundation/flowservice/runs/{run_id}")


async def test_waiting_and_failed_runs(fs: FlowService) -> None:
    flow_id = await fs.flow()
    waiting = await fs.item(f"/runs/{await fs.run(flow_id)}")
    assert waiting["metrics"] == {"statusSummary": {"status": "waiting"}}
    assert waiting["activities"] == []
    errors = [{"code": "ACTIVATION_BATCH-0000-FAILED", "message": "Job aborted."}]
    failed_id = await fs.run(flow_id, status="failed", started_at=T0, completed_at=T0, errors=errors)
    failed = await fs.item(f"/runs/{failed_id}")
    assert failed["metrics"]["statusSummary"]["status"] == "failed"
    assert failed["metrics"]["statusSummary"]["errors"] == errors
    assert failed["metrics"]["durationSummary"] == {"startedAtUTC": _ms(T0), "completedAtUTC": _ms(T0)}
    assert [activity["name"] for activity in failed["activities"]] == [XDM_ACTIVITY]
    assert failed["activities"][0]["statusSummary"]["errors"] == errors


async def _ids(fs: FlowService, query: str) -> list[str]:
    response = await fs.call("GET", f"/runs{query}", expect=200)
    return [item["id"] for item in response.json()["items"]]


async def test_run_filters(fs: FlowService) -> None:
    flow_a, flow_b = await fs.flow(name="a"), await fs.flow(name="b")
    x, y = await fs.audience(), await fs.audience()
    first = await fs.run(
        flow_a, created_at=T0, status="success", segment_ids=[x], started_at=T0, metrics=success_metrics(x, 3)
    )
    second = await fs.run(
        flow_a,
        created_at=T0 + timedelta(hours=1),
        status="failed",
        segment_ids=[x, y],
        started_at=T0 + timedelta(hours=1),
    )
    third = await fs.run(
        flow_b,
        created_at=T0 + timedelta(hours=2),
        status="processing",
        segment_ids=[y],
        started_at=T0 + timedelta(hours=2),
    )
    assert await _ids(fs, "") == [third, second, first], "newest first by default"
    assert await _ids(fs, f"?property=flowId=={flow_a}") == [second, first]
    assert await _ids(fs, f"?property=flowId=={flow_a},{flow_b}&orderby=createdAt") == [first, second, third]
    assert await _ids(fs, "?property=metrics.statusSummary.status==success") == [first]
    assert await _ids(fs, "?property=metrics.statusSummary.status==Failed") == [second]
    assert await _ids(fs, "?property=metrics.statusSummary.status!=FAILED") == [third, first]
    assert await _ids(fs, f"?property=metrics.recordSummary.sourceSummaries[].id=={y}") == [third, second]
    segment = f"?property=metrics.recordSummary.targetSummaries[].entitySummaries[].id==segment:{x}"
    assert await _ids(fs, segment) == [second, first]
    # The contract's form: a second filter written as a bare query piece.
    bare = f"?property=metrics.recordSummary.sourceSummaries[].id=={x}&metrics.statusSummary.status==success"
    assert await _ids(fs, bare) == [first]
    after = _ms(T0 + timedelta(minutes=30))
    assert await _ids(fs, f"?property=metrics.durationSummary.startedAtUTC>{after}") == [third, second]
    assert await _ids(
        fs, f"?property=createdAt<={_ms(T0 + timedelta(hours=1))}&property=createdAt>{_ms(T0)}"
    ) == [second]
    assert await _ids(fs, f"?property=createdAt=={_ms(T0)}") == [first]
    assert await _ids(fs, "?property=metrics.recordSummary.outputRecordCount>=3") == [first], (
        "evaluated on the views"
    )
    assert await _ids(fs, "?orderby=-metrics.durationSummary.startedAtUTC") == [third, second, first]


async def test_run_paging_and_count(fs: FlowService) -> None:
    flow_id = await fs.flow()
    runs = [await fs.run(flow_id, created_at=T0 + timedelta(minutes=index)) for index in range(5)]
    newest_first = list(reversed(runs))
    page = (await fs.call("GET", f"/runs?property=flowId=={flow_id}&limit=2", expect=200)).json()
    seen = [item["id"] for item in page["items"]]
    while page["_links"]:
        page = (
            await fs.client.get(
                f"/data/foundation/flowservice{page['_links']['next']['href']}", headers=fs.headers()
            )
        ).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
    assert seen == newest_first
    counted = await fs.call("GET", f"/runs?property=flowId=={flow_id}&count=true", expect=200)
    assert counted.json() == {"count": 5}
    residual = (
        await fs.call(
            "GET", "/runs?property=metrics.statusSummary.status==waiting&property=activities==x&count=true"
        )
    ).json()
    assert residual == {"count": 0}
    limited = (await fs.call("GET", "/runs?property=etag!=x&limit=2")).json()
    assert [item["id"] for item in limited["items"]] == newest_first[:2]
    assert "next" in limited["_links"]
    too_many = await fs.call("GET", "/runs?limit=101", expect=400)
    assert report(too_many)["field"] == "limit"


async def test_run_view_for_the_integrator(fs: FlowService) -> None:
    flow_id = await fs.flow()
    run_id = await fs.run(flow_id)
    async with fs.container.unit_of_work() as uow:
        run = await RunRepository(uow.session, fs.tenant.org_id, await fs.sandbox_id()).run(run_id)
    assert run is not None
    view = run_view(run, ims_org_id="ORG@AdobeOrg", base_url="http://h/data/foundation/flowservice")
    assert view["imsOrgId"] == "ORG@AdobeOrg"
    assert view["_links"]["self"]["href"] == f"http://h/data/foundation/flowservice/runs/{run_id}"
    assert "flowSpec" not in view
