"""Segment jobs: the API (submit, read, list, bulk-get, cancel, 429 cap) and the evaluation snapshots."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import update

from clarion.audiences.evaluation import Evaluation, JobScope
from clarion.models.audiences import SegmentDefinition
from clarion.runtime import BackgroundServices
from tests.audiences.conftest import Ups, UpsFactory, detail

ADULT = "person.age >= 35"


async def test_submitted_job_is_new_in_the_contract_shape(ups: Ups) -> None:
    segment = await ups.segment(ADULT)
    before = int(time.time() * 1000)
    job = await ups.job(segment["id"])
    assert job["status"] == "NEW"
    assert job["source"] == "api"
    assert job["imsOrgId"] == ups.tenant.ims_org_id
    assert job["sandbox"]["sandboxId"] == ups.sandbox_id
    assert job["profileInstanceId"] == "ups"
    assert job["schema"] == {"name": "_xdm.context.profile"}
    assert job["segments"] == [
        {
            "segmentId": segment["id"],
            "segment": {
                "id": segment["id"],
                "expression": segment["expression"],
                "mergePolicyId": segment["mergePolicyId"],
                "mergePolicy": {"id": segment["mergePolicyId"], "version": 1},
            },
        }
    ]
    assert job["metrics"] == {"totalTime": {}, "profileSegmentationTime": {}}
    assert job["errors"] == []
    assert job["requestId"]
    link = f"/data/core/ups/segment/jobs/{job['id']}"
    assert job["_links"] == {
        "cancel": {"href": link, "method": "DELETE"},
        "checkStatus": {"href": link, "method": "GET"},
    }
    assert before <= job["creationTime"] <= int(time.time() * 1000)
    assert job["updateTime"] // 1000 == job["updateEpoch"]
    assert await ups.read_job(job["id"]) == job


async def test_request_id_header_is_kept(ups: Ups) -> None:
    segment = await ups.segment(ADULT)
    headers = {**ups.tenant.headers(), "x-request-id": "q0gf6caRuRtX2s5khaN1Zgd1OoEXcPJA"}
    response = await ups.client.post(
        "/data/core/ups/segment/jobs", json=[{"segmentId": segment["id"]}], headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["requestId"] == "q0gf6caRuRtX2s5khaN1Zgd1OoEXcPJA"


async def test_job_request_errors_are_400(ups: Ups, make_ups: UpsFactory) -> None:
    segment = await ups.segment(ADULT)
    foreign = await (await make_ups()).segment(ADULT)
    unknown = await ups.call("POST", "/segment/jobs", [{"segmentId": foreign["id"]}], expect=400)
    assert foreign["id"] in detail(unknown)
    mixed = await ups.call(
        "POST", "/segment/jobs", [{"segmentId": "*"}, {"segmentId": segment["id"]}], expect=400
    )
    assert '"*"' in detail(mixed)
    await ups.call("POST", "/segment/jobs", [], expect=400)
    await ups.call("POST", "/segment/jobs", [{"segment": segment["id"]}], expect=400)
    assert (await ups.call("GET", "/segment/jobs", expect=200)).json()["_page"]["totalCount"] == 0


async def test_too_many_jobs_in_processing_is_429(ups: Ups) -> None:
    segment = await ups.segment(ADULT)
    cap = ups.container.settings.segment_jobs_max_processing
    jobs = [await ups.job(segment["id"]) for _ in range(cap)]
    refused = await ups.call("POST", "/segment/jobs", [{"segmentId": segment["id"]}], expect=429)
    assert "too many segmentation jobs in processing" in detail(refused)
    assert int(refused.headers["Retry-After"]) > 0
    await ups.call("DELETE", f"/segment/jobs/{jobs[0]['id']}", expect=204)
    await ups.job(segment["id"])


async def test_realized_existing_exited_across_jobs(ups: Ups) -> None:
    young, middle, old = await ups.add_profiles(
        ({"person": {"age": 30}}, {"email": ["y@x.test"]}),
        ({"person": {"age": 40}}, {"email": ["m@x.test"], "crmid": ["2"]}),
        ({"person": {"age": 50}}, {"email": ["o@x.test"]}),
    )
    segment = (await ups.segment(ADULT))["id"]

    first = await ups.run_job(segment)
    assert first["status"] == "SUCCEEDED", first
    assert await ups.memberships(segment) == {
        middle: ("realized", first["id"]),
        old: ("realized", first["id"]),
    }
    _assert_counts(first, segment, realized=2, existing=0, exited=0, namespaces={"email": 2, "crmid": 1})
    assert first["metrics"]["totalProfiles"] == 3

    await ups.set_attributes(old, {"person": {"age": 20}})
    await ups.set_attributes(young, {"person": {"age": 36}})
    second = await ups.run_job(segment)
    assert await ups.memberships(segment) == {
        young: ("realized", second["id"]),
        middle: ("existing", second["id"]),
        old: ("exited", second["id"]),
    }
    _assert_counts(second, segment, realized=1, existing=1, exited=1, namespaces={"email": 2, "crmid": 1})

    await ups.set_attributes(old, {"person": {"age": 60}})
    third = await ups.run_job(segment)
    assert {profile: status for profile, (status, _) in (await ups.memberships(segment)).items()} == {
        young: "existing",
        middle: "existing",
        old: "realized",
    }
    _assert_counts(third, segment, realized=1, existing=2, exited=0, namespaces={"email": 3, "crmid": 1})


async def test_metrics_have_times_and_totals(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {"email": ["a@x.test"]}))
    segment = await ups.segment(ADULT)
    job = await ups.run_job(segment["id"])
    metrics = job["metrics"]
    total, evaluation = metrics["totalTime"], metrics["profileSegmentationTime"]
    assert total["startTimeInMs"] == job["creationTime"]
    assert (
        total["startTimeInMs"]
        <= evaluation["startTimeInMs"]
        <= evaluation["endTimeInMs"]
        <= total["endTimeInMs"]
    )
    assert total["totalTimeInMs"] == total["endTimeInMs"] - total["startTimeInMs"]
    assert evaluation["totalTimeInMs"] == evaluation["endTimeInMs"] - evaluation["startTimeInMs"]
    assert metrics["totalProfilesByMergePolicy"] == {segment["mergePolicyId"]: 1}


async def test_a_job_run_again_writes_the_same_snapshot(ups: Ups) -> None:
    first_profile, second_profile = await ups.add_profiles(
        ({"person": {"age": 40}}, {"email": ["a@x.test"]}), ({"person": {"age": 50}}, {"email": ["b@x.test"]})
    )
    segment = (await ups.segment(ADULT))["id"]
    await ups.run_job(segment)
    await ups.set_attributes(second_profile, {"person": {"age": 1}})
    job = await ups.run_job(segment)
    snapshot = await ups.memberships(segment)
    # The queue redelivers the job of a crashed worker: it is still PROCESSING.
    await ups.force_status(job["id"], "PROCESSING")
    again = await ups.evaluate(job["id"])
    assert again["status"] == "SUCCEEDED"
    assert await ups.memberships(segment) == snapshot
    assert snapshot[first_profile] == ("existing", job["id"])
    assert (
        again["metrics"]["segmentedProfileByStatusCounter"]
        == job["metrics"]["segmentedProfileByStatusCounter"]
    )
    assert (
        again["metrics"]["profileSegmentationTime"]["startTimeInMs"]
        == (job["metrics"]["profileSegmentationTime"]["startTimeInMs"])
    )


async def test_a_finished_job_is_not_evaluated_again(ups: Ups) -> None:
    (profile,) = await ups.add_profiles(({"person": {"age": 40}}, {}))
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.run_job(segment)
    await ups.set_attributes(profile, {"person": {"age": 1}})
    assert (await ups.evaluate(job["id"]))["status"] == "SUCCEEDED"
    assert await ups.memberships(segment) == {profile: ("realized", job["id"])}


async def test_wildcard_job_evaluates_every_batch_audience(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {"email": ["a@x.test"]}))
    batch = await ups.segment(ADULT, name="batch")
    streaming = await ups.segment(ADULT, name="streaming", evaluationInfo={"continuous": {"enabled": True}})
    job = await ups.call("POST", "/segment/jobs", {"segments": [{"segmentId": "*"}]}, expect=200)
    assert job.json()["segments"] == [{"segmentId": "*"}]
    done = await ups.evaluate(job.json()["id"])
    assert [item["segmentId"] for item in done["segments"]] == [batch["id"]]
    assert done["metrics"]["segmentedProfileCounter"] == {batch["id"]: 1}
    assert await ups.memberships(streaming["id"]) == {}


async def test_job_on_deleted_segment_fails_with_a_message(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {}))
    kept = (await ups.segment(ADULT, name="kept"))["id"]
    deleted = (await ups.segment(ADULT, name="deleted"))["id"]
    job = await ups.job(kept, deleted)
    await ups.call("DELETE", f"/segment/definitions/{deleted}", expect=200)
    done = await ups.evaluate(job["id"])
    assert done["status"] == "FAILED"
    (error,) = done["errors"]
    assert deleted in error["msg"]
    assert "no longer exists" in error["msg"]
    assert done["metrics"]["segmentedProfileCounter"] == {kept: 1}
    assert done["segments"][1] == {"segmentId": deleted}


async def test_job_on_segment_with_bad_pql_fails_with_a_message(ups: Ups) -> None:
    segment = await ups.segment(ADULT)
    async with ups.container.unit_of_work() as uow:
        await uow.session.execute(
            update(SegmentDefinition)
            .where(SegmentDefinition.id == segment["id"])
            .values(expression={"type": "PQL", "format": "pql/text", "value": "person.age >>> 3"})
        )
        await uow.commit()
    done = await ups.run_job(segment["id"])
    assert done["status"] == "FAILED"
    assert "cannot be evaluated" in done["errors"][0]["msg"]
    assert "position" in done["errors"][0]["msg"]


async def test_cancel_a_waiting_job(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {}))
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.job(segment)
    response = await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=204)
    assert response.content == b""
    assert (await ups.read_job(job["id"]))["status"] == "CANCELLED"
    assert (await ups.evaluate(job["id"]))["status"] == "CANCELLED"
    assert await ups.memberships(segment) == {}


async def test_cancel_a_running_job_stops_it_between_segments(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {}))
    first = (await ups.segment(ADULT, name="first"))["id"]
    second = (await ups.segment(ADULT, name="second"))["id"]
    job = await ups.job(first, second)

    class CancelledAfterFirst(Evaluation):
        """Evaluation during which the client cancels the job once the first audience is done."""

        async def _evaluate(self, segment_id: str, now: Any) -> bool:
            if segment_id == second:
                await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=204)
                assert (await ups.read_job(job["id"]))["status"] == "CANCELLING"
            return await super()._evaluate(segment_id, now)

    scope = JobScope(org_id=ups.tenant.org_id, sandbox_id=ups.sandbox_id, job_id=job["id"])
    await CancelledAfterFirst(ups.container.unit_of_work, scope).run()
    done = await ups.read_job(job["id"])
    assert done["status"] == "CANCELLED"
    assert done["metrics"]["segmentedProfileCounter"] == {first: 1}
    assert await ups.memberships(second) == {}
    assert "endTimeInMs" in done["metrics"]["totalTime"]


async def test_cancelling_job_of_a_crashed_worker_ends_cancelled(ups: Ups) -> None:
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.job(segment)
    await ups.force_status(job["id"], "PROCESSING")
    await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=204)
    assert (await ups.read_job(job["id"]))["status"] == "CANCELLING"
    await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=204)
    assert (await ups.evaluate(job["id"]))["status"] == "CANCELLED"


async def test_deleting_a_finished_job_removes_its_record_not_its_snapshot(ups: Ups) -> None:
    (profile,) = await ups.add_profiles(({"person": {"age": 40}}, {}))
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.run_job(segment)
    await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=204)
    await ups.call("GET", f"/segment/jobs/{job['id']}", expect=404)
    await ups.call("DELETE", f"/segment/jobs/{job['id']}", expect=404)
    assert await ups.memberships(segment) == {profile: ("realized", job["id"])}


async def test_list_filters_sorts_and_pages(ups: Ups) -> None:
    one = (await ups.segment(ADULT, name="one"))["id"]
    two = (await ups.segment(ADULT, name="two"))["id"]
    first = await ups.run_job(one)
    second = await ups.job(two)
    third = await ups.job(one, two)
    listing = (await ups.call("GET", "/segment/jobs", expect=200)).json()
    assert [item["id"] for item in listing["children"]] == [third["id"], second["id"], first["id"]]
    assert listing["_page"] == {"totalCount": 3, "pageSize": 3}
    assert listing["_links"] == {"next": {}}
    page = (await ups.call("GET", "/segment/jobs?limit=1&start=1&sort=creationTime:asc", expect=200)).json()
    assert [item["id"] for item in page["children"]] == [second["id"]]
    assert page["_links"]["next"]["href"].startswith("/data/core/ups/segment/jobs?start=2&limit=1")
    succeeded = (await ups.call("GET", "/segment/jobs?status=SUCCEEDED", expect=200)).json()
    assert [item["id"] for item in succeeded["children"]] == [first["id"]]
    naming_two = (
        await ups.call("GET", f"/segment/jobs?property=segments~segmentId=={two}", expect=200)
    ).json()
    assert {item["id"] for item in naming_two["children"]} == {second["id"], third["id"]}
    by_source = (await ups.call("GET", "/segment/jobs?property=source==scheduler", expect=200)).json()
    assert by_source["children"] == []
    assert "status" in detail(await ups.call("GET", "/segment/jobs?status=DONE", expect=400))
    assert "property" in detail(await ups.call("GET", "/segment/jobs?property=colour==red", expect=400))


async def test_bulk_get_jobs(ups: Ups, make_ups: UpsFactory) -> None:
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.job(segment)
    other = await make_ups()
    foreign = await other.job((await other.segment(ADULT))["id"])
    ids = {"ids": [{"id": job["id"]}, {"id": foreign["id"]}]}
    answer = (await ups.call("POST", "/segment/jobs/bulk-get", ids, expect=207)).json()
    assert list(answer["results"]) == [job["id"]]
    assert answer["results"][job["id"]]["status"] == "NEW"
    assert answer["errors"][foreign["id"]]["status"] == 404


async def test_jobs_are_tenant_isolated(ups: Ups, make_ups: UpsFactory) -> None:
    job = await ups.job((await ups.segment(ADULT))["id"])
    other = await make_ups()
    await other.call("GET", f"/segment/jobs/{job['id']}", expect=404)
    await other.call("DELETE", f"/segment/jobs/{job['id']}", expect=404)
    assert (await other.call("GET", "/segment/jobs", expect=200)).json()["children"] == []
    assert (await ups.read_job(job["id"]))["status"] == "NEW"


async def test_the_worker_runs_submitted_jobs(ups: Ups, worker: BackgroundServices) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {"email": ["a@x.test"]}), ({"person": {"age": 3}}, {}))
    segment = (await ups.segment(ADULT))["id"]
    job = await ups.job(segment)
    done = await ups.wait_for(job["id"], "SUCCEEDED", "FAILED")
    assert done["status"] == "SUCCEEDED", done
    assert done["metrics"]["segmentedProfileCounter"] == {segment: 1}


def _assert_counts(
    job: dict[str, Any],
    segment: str,
    *,
    realized: int,
    existing: int,
    exited: int,
    namespaces: dict[str, int],
) -> None:
    metrics = job["metrics"]
    assert job["status"] == "SUCCEEDED", job
    assert metrics["segmentedProfileByStatusCounter"][segment] == {
        "realized": realized,
        "existing": existing,
        "exited": exited,
    }
    assert metrics["segmentedProfileCounter"][segment] == realized + existing
    assert metrics["segmentedProfileByNamespaceCounter"][segment] == namespaces
