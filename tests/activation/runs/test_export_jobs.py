"""Segmentation export jobs write JSON lines into the dataset folder and report the contract's record."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from clarion.config import Settings
from clarion.runtime import BackgroundServices
from tests.activation.runs.conftest import Activation

JOBS = "/data/core/ups/export/jobs"
MEMBERS = [
    {"person": {"name": {"firstName": "Ada"}}, "loyalty": {"tier": "gold"}},
    {"person": {"name": {"firstName": "Alan"}}, "loyalty": {"tier": "silver"}},
]


async def _finished(activation: Activation, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        response = await activation.client.get(f"{JOBS}/{job_id}", headers=activation.fs.headers())
        record: dict[str, Any] = response.json()
        if record["status"] in ("SUCCEEDED", "FAILED"):
            return record
        assert time.monotonic() < deadline, record
        await asyncio.sleep(0.02)


async def test_export_job_writes_the_audience_to_its_dataset(
    activation: Activation, worker: BackgroundServices, settings: Settings
) -> None:
    audience = await activation.audience(MEMBERS)
    body = {
        "fields": "person.name.firstName",
        "filter": {"segments": [{"segmentId": audience, "status": ["realized"]}]},
        "destination": {"datasetId": "ds-42", "segmentPerBatch": True},
        "schema": {"name": "_xdm.context.profile"},
    }
    response = await activation.client.post(JOBS, json=body, headers=activation.fs.headers())
    assert response.status_code == 200, response.text
    created = response.json()
    assert isinstance(created["id"], int)
    assert created["status"] == "NEW"
    assert response.headers["X-Location"] == f"{JOBS}/{created['id']}"
    record = await _finished(activation, created["id"])
    assert record["status"] == "SUCCEEDED", record
    assert record["metrics"]["totalExportedProfileCounter"] == 2
    (batch,) = record["destination"]["batches"]
    assert batch["segmentId"] == audience
    assert settings.landing_zone is not None
    path = settings.landing_zone / "datasets" / "ds-42" / batch["batchId"] / f"segment-{audience}.json"
    documents = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(doc["person"]["name"]["firstName"] for doc in documents) == ["Ada", "Alan"]
    assert all(doc["segmentMembership"]["status"] == "realized" for doc in documents)
    assert all("loyalty" not in doc for doc in documents)
    listed = await activation.client.get(f"{JOBS}?limit=5", headers=activation.fs.headers())
    assert [item["id"] for item in listed.json()["records"]] == [created["id"]]


async def test_export_job_without_fields_exports_whole_profiles_and_can_be_cancelled(
    activation: Activation,
) -> None:
    audience = await activation.audience(MEMBERS)
    body = {"filter": {"segments": [{"segmentId": audience}]}, "destination": {"datasetId": "ds-7"}}
    response = await activation.client.post(JOBS, json=body, headers=activation.fs.headers())
    job_id = response.json()["id"]
    cancelled = await activation.client.delete(f"{JOBS}/{job_id}", headers=activation.fs.headers())
    assert cancelled.status_code == 200
    assert cancelled.json() == {"status": True, "message": "Export job has been marked for cancelling"}
    record = (await activation.client.get(f"{JOBS}/{job_id}", headers=activation.fs.headers())).json()
    assert record["status"] == "CANCELLED"


async def test_export_job_rules(activation: Activation) -> None:
    headers = activation.fs.headers()
    missing = await activation.client.post(JOBS, json={"fields": ""}, headers=headers)
    assert missing.status_code == 400
    assert "destination" in missing.text
    unknown = await activation.client.post(
        JOBS,
        json={"filter": {"segments": [{"segmentId": "nope"}]}, "destination": {"datasetId": "d"}},
        headers=headers,
    )
    assert unknown.status_code == 400
    assert "nope" in unknown.text
    bad_status = await activation.client.post(
        JOBS,
        json={
            "filter": {"segments": [{"segmentId": "x", "status": ["gone"]}]},
            "destination": {"datasetId": "d"},
        },
        headers=headers,
    )
    assert bad_status.status_code == 400
    assert (await activation.client.get(f"{JOBS}/99999999", headers=headers)).status_code == 404
