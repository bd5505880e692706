"""Profile tests use the shared ``api`` fixtures (tests/conftest.py); helpers for calls and stored rows."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from clarion.container import Container
from clarion.kit.clock import utcnow
from clarion.models.audiences import SegmentDefinition, SegmentMembership
from clarion.models.profiles import Profile, ProfileIdentity
from tests.builders import Api

__all__ = ["Api", "add_membership", "detail", "put", "sandbox_id", "stored_counts"]


async def put(api: Api, namespace: str, value: str, body: dict[str, Any], *, expect: int) -> dict[str, Any]:
    """``PUT /v1/profiles/{namespace}/{value}`` expecting ``expect``; the answer's JSON."""
    response = await api.call("PUT", f"/v1/profiles/{namespace}/{value}", body, expect=expect)
    answer: dict[str, Any] = response.json()
    return answer


def detail(response: httpx.Response) -> str:
    """The detailed message of an AEP error."""
    return str(response.json()["report"]["detailed-message"])


async def sandbox_id(api: Api, name: str = "prod") -> str:
    """The id of one of the tenant's sandboxes."""
    response = await api.call("GET", f"/v1/sandboxes/{name}", expect=200)
    return str(response.json()["id"])


async def stored_counts(container: Container, org_id: str) -> tuple[int, int]:
    """``(profiles, identities)`` stored for an organization, counted in the database."""
    async with container.unit_of_work() as uow:
        profiles = await uow.session.scalar(
            select(func.count()).select_from(Profile).where(Profile.org_id == org_id)
        )
        identities = await uow.session.scalar(
            select(func.count()).select_from(ProfileIdentity).where(ProfileIdentity.org_id == org_id)
        )
    return int(profiles or 0), int(identities or 0)


async def add_membership(container: Container, api: Api, profile_id: str, *, status: str = "realized") -> str:
    """An audience of the tenant with ``profile_id`` as a member; the audience id."""
    sandbox = await sandbox_id(api)
    org_id = api.tenant.org_id
    async with container.unit_of_work() as uow:
        segment = SegmentDefinition(
            org_id=org_id,
            sandbox_id=sandbox,
            name=f"gold members {profile_id}",
            expression={"type": "PQL", "format": "pql/text", "value": 'loyalty.tier = "gold"'},
            merge_policy_id="policy",
        )
        uow.session.add(segment)
        await uow.session.flush()
        uow.session.add(
            SegmentMembership(
                segment_id=segment.id,
                profile_id=profile_id,
                org_id=org_id,
                sandbox_id=sandbox,
                status=status,
                job_id="job-1",
                qualified_at=utcnow(),
            )
        )
        await uow.commit()
        return segment.id
