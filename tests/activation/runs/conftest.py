"""Runs end to end: audiences with members, dataflows through the Flow Service API, a worker that exports."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from clarion.config import Settings
from clarion.container import Container
from clarion.models.audiences import SegmentMembership
from clarion.models.profiles import Profile
from tests.activation.flowservice.conftest import FlowService, add_selector, selector
from tests.builders import Tenant

ADHOC = "/data/core/activation/disflowprovider/adhocrun"
V2 = "application/vnd.adobe.adhoc.activation+json; version=2"
MAPPING = {
    "mappings": [
        {"source": "identityMap.email"},
        {"source": "person.name.firstName"},
        {"source": "loyalty.points"},
        {"source": "segmentMembership.status"},
    ]
}
PAST_DAILY = {
    "frequency": "DAILY",
    "startDate": "2026-01-01",
    "startTime": "00:00",
    "triggerType": "SCHEDULED",
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """No first-activation delay, fast export retries, a landing zone per test."""
    settings.activation_first_run_delay_seconds = 0
    settings.export_retry_base_seconds = 0.01
    settings.landing_zone = tmp_path / "landing"
    return settings


@dataclass
class Activation:
    """A tenant's Flow Service client plus what activation tests need."""

    fs: FlowService
    client: httpx.AsyncClient
    container: Container

    async def audience(self, members: list[dict[str, Any]], *, name: str = "") -> str:
        """An audience whose members are profiles with these attributes (emails m0@…, m1@…)."""
        audience_id = await self.fs.audience(name)
        sandbox_id = await self.fs.sandbox_id()
        async with self.container.unit_of_work() as uow:
            for index, attributes in enumerate(members):
                profile = Profile(
                    org_id=self.fs.tenant.org_id,
                    sandbox_id=sandbox_id,
                    attributes=attributes,
                    identities={"email": [f"m{index}@example.com"]},
                )
                uow.session.add(profile)
                await uow.session.flush()
                uow.session.add(
                    SegmentMembership(
                        segment_id=audience_id,
                        profile_id=profile.id,
                        org_id=self.fs.tenant.org_id,
                        sandbox_id=sandbox_id,
                        status="realized",
                        job_id="seed",
                    )
                )
            await uow.commit()
        return audience_id

    async def flow(
        self,
        kind: str,
        audience_ids: list[str],
        *,
        schedule: dict[str, Any] | None = None,
        target_id: str | None = None,
    ) -> str:
        """A dataflow of ``kind`` exporting the audiences (mapping: email, first name, points, status)."""
        spec = {"sftp": "354d6aad-4754-46e4-a576-1b384561c440", "s3": "269ba276-16fc-47db-92b0-c1049a3c131f"}
        from clarion.activation.flowservice import specs

        flow_spec = spec.get(kind, specs.LOCAL_FLOW_SPEC_ID)
        target = target_id or await self.fs.target(kind)
        body = self.fs.flow_body(await self.fs.source(), target, spec=flow_spec)
        body["transformations"][0]["params"]["profileMapping"] = MAPPING
        flow_id = await self.fs.create("/flows", body)
        for audience_id in audience_ids:
            value = selector(audience_id, schedule=schedule or PAST_DAILY)
            await self.fs.patch(f"/flows/{flow_id}", add_selector(value))
        return flow_id

    async def adhoc(self, body: dict[str, Any], *, version: int = 2) -> httpx.Response:
        """POST adhocrun (v2 with the versioned Accept header)."""
        headers = self.fs.headers(**({"Accept": V2} if version == 2 else {}))
        return await self.client.post(ADHOC, json=body, headers=headers)

    async def run(self, run_id: str) -> dict[str, Any]:
        """The run as GET /runs/{id} shows it."""
        return await self.fs.item(f"/runs/{run_id}")

    async def finished(self, run_id: str, *, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the run until it is success or failed."""
        deadline = time.monotonic() + timeout
        while True:
            run = await self.run(run_id)
            if run["metrics"]["statusSummary"]["status"] in ("success", "failed"):
                return run
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.02)


def run_id_of(order: dict[str, Any]) -> str:
    """The run id at the end of an order record's statusURL."""
    return str(order["statusURL"].rsplit("/", 1)[1])


@pytest.fixture
async def activation(client: httpx.AsyncClient, tenant: Tenant, container: Container) -> Activation:
    """One tenant's activation helper."""
    return Activation(FlowService(client, tenant, container), client, container)


@pytest.fixture
async def fs(client: httpx.AsyncClient, tenant: Tenant, container: Container) -> FlowService:
    """The Flow Service client of one fresh tenant (the runs read API is tested through it)."""
    return FlowService(client, tenant, container)
