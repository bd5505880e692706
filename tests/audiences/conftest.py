"""Segmentation API tests: a tenant's client of ``/data/core/ups``, profiles written as rows, job helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from clarion.container import Container
from clarion.models.audiences import SegmentJob, SegmentMembership
from clarion.models.profiles import Profile
from tests.builders import Tenant

UPS = "/data/core/ups"


@dataclass
class Ups:
    """A tenant's view of the Segmentation API, plus direct access to its sandbox's rows."""

    client: httpx.AsyncClient
    tenant: Tenant
    container: Container
    sandbox: str = "prod"
    sandbox_id: str = ""

    async def call(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> httpx.Response:
        """Call ``/data/core/ups{path}`` as the tenant; assert the status when ``expect`` is given."""
        response = await self.client.request(
            method, UPS + path, json=body, headers=self.tenant.headers(self.sandbox)
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    async def segment(self, value: str, *, name: str = "", **fields: Any) -> dict[str, Any]:
        """Create a pql/text segment definition and return its view."""
        body = {
            "name": name or f"audience {value}",
            "expression": {"type": "PQL", "format": "pql/text", "value": value},
            "schema": {"name": "_xdm.context.profile"},
            **fields,
        }
        created: dict[str, Any] = (await self.call("POST", "/segment/definitions", body, expect=200)).json()
        return created

    async def job(self, *segment_ids: str) -> dict[str, Any]:
        """Submit a segment job for the audiences and return its view."""
        body = [{"segmentId": segment_id} for segment_id in segment_ids]
        created: dict[str, Any] = (await self.call("POST", "/segment/jobs", body, expect=200)).json()
        return created

    async def read_job(self, job_id: str) -> dict[str, Any]:
        """The job's current view."""
        found: dict[str, Any] = (await self.call("GET", f"/segment/jobs/{job_id}", expect=200)).json()
        return found

    async def evaluate(self, job_id: str) -> dict[str, Any]:
        """Run the job's evaluation in this process (as the worker would) and return the job's view."""
        # Imported here: this conftest also serves tests/audiences/pql, which must not depend on evaluation.
        from clarion.audiences.evaluation import Evaluation, JobScope

        scope = JobScope(org_id=self.tenant.org_id, sandbox_id=self.sandbox_id, job_id=job_id)
        await Evaluation(self.container.unit_of_work, scope).run()
        return await self.read_job(job_id)

    async def run_job(self, *segment_ids: str) -> dict[str, Any]:
        """Submit and evaluate a job; return the finished job's view."""
        return await self.evaluate((await self.job(*segment_ids))["id"])

    async def add_profiles(self, *documents: tuple[dict[str, Any], dict[str, list[str]]]) -> list[str]:
        """Insert profiles ``(attributes, identities)`` in the sandbox; return their ids in order."""
        rows = [
            Profile(
                org_id=self.tenant.org_id,
                sandbox_id=self.sandbox_id,
                attributes=attributes,
                identities=identities,
            )
            for attributes, identities in documents
        ]
        async with self.container.unit_of_work() as uow:
            uow.session.add_all(rows)
            await uow.commit()
        return [row.id for row in rows]

    async def set_attributes(self, profile_id: str, attributes: dict[str, Any]) -> None:
        """Replace a profile's attributes."""
        async with self.container.unit_of_work() as uow:
            await uow.session.execute(
                update(Profile).where(Profile.id == profile_id).values(attributes=attributes)
            )
            await uow.commit()

    async def memberships(self, segment_id: str) -> dict[str, tuple[str, str]]:
        """``{profile_id: (status, job_id)}`` of the audience's snapshot."""
        async with self.container.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(
                    SegmentMembership.profile_id, SegmentMembership.status, SegmentMembership.job_id
                ).where(SegmentMembership.segment_id == segment_id)
            )
            return {profile_id: (status, job_id) for profile_id, status, job_id in rows}

    async def force_status(self, job_id: str, status: str) -> None:
        """Put a job in ``status`` directly (a worker that crashed, a job caught mid-run)."""
        async with self.container.unit_of_work() as uow:
            await uow.session.execute(update(SegmentJob).where(SegmentJob.id == job_id).values(status=status))
            await uow.commit()

    async def wait_for(self, job_id: str, *statuses: str, deadline: float = 30.0) -> dict[str, Any]:
        """Poll the job until its status is one of ``statuses`` (fail after ``deadline`` seconds)."""
        give_up = time.monotonic() + deadline
        while True:
            job = await self.read_job(job_id)
            if job["status"] in statuses:
                return job
            assert time.monotonic() < give_up, f"job {job_id} still {job['status']} after {deadline} s"
            await asyncio.sleep(0.02)


UpsFactory = Callable[..., Awaitable[Ups]]


@pytest.fixture
def make_ups(
    client: httpx.AsyncClient, container: Container, make_tenant: Callable[..., Awaitable[Tenant]]
) -> UpsFactory:
    """Fresh tenants with a Segmentation API client on their ``prod`` sandbox."""

    async def make(tenant: Tenant | None = None, *, sandbox: str = "prod") -> Ups:
        owner = tenant or await make_tenant()
        response = await client.get(f"/v1/sandboxes/{sandbox}", headers=owner.headers())
        assert response.status_code == 200, response.text
        return Ups(client, owner, container, sandbox=sandbox, sandbox_id=response.json()["id"])

    return make


@pytest.fixture
async def ups(make_ups: UpsFactory) -> Ups:
    """One fresh tenant's Segmentation API client."""
    return await make_ups()


def detail(response: httpx.Response) -> str:
    """The detailed message of an AEP error envelope."""
    return str(response.json()["report"]["detailed-message"])
