"""HTTP endpoints of the tenancy domain (/v1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from clarion.api.deps import UoWDep
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id
from clarion.tenancy import service
from clarion.tenancy.gateway import PrincipalDep
from clarion.tenancy.schemas import OrganizationRead, SandboxCreate, SandboxRead
from clarion.tenancy.service import SandboxDataOwner

router = APIRouter(prefix="/v1", tags=["tenancy"])


def sandbox_data_owners(request: Request) -> Sequence[SandboxDataOwner]:
    """The domains that delete their rows with a sandbox (named by ``services.py``)."""
    owners: Sequence[SandboxDataOwner] = request.app.state.services.sandbox_data_owners
    return owners


SandboxDataOwnersDep = Annotated[Sequence[SandboxDataOwner], Depends(sandbox_data_owners)]


@router.get("/organization", response_model=OrganizationRead)
async def read_organization(principal: PrincipalDep) -> OrganizationRead:
    """The caller's organization, entitlements and current sandbox."""
    return OrganizationRead(
        orgId=principal.ims_org_id,
        name=principal.ims_org_id,
        highThroughputEntitled=principal.high_throughput_entitled,
        standardRatePerSecond=principal.standard_rate_per_second,
        highThroughputRatePerSecond=principal.high_throughput_rate_per_second,
        sandbox=principal.sandbox_name,
    )


@router.get("/sandboxes", response_model=Page[SandboxRead], response_model_by_alias=True)
async def list_sandboxes(
    principal: PrincipalDep, uow: UoWDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[SandboxRead]:
    """The organization's sandboxes."""
    sandboxes, total = await service.list_sandboxes(uow, principal, limit=page.limit, offset=page.offset)
    items = [SandboxRead.model_validate(sandbox) for sandbox in sandboxes]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/sandboxes", status_code=201, response_model=SandboxRead, response_model_by_alias=True)
async def create_sandbox(body: SandboxCreate, principal: PrincipalDep, uow: UoWDep) -> SandboxRead:
    """Create a sandbox in the caller's organization."""
    sandbox = await service.create_sandbox(
        uow, principal.org_id, name=body.name, sandbox_type=body.type, title=body.title
    )
    return SandboxRead.model_validate(sandbox)


@router.get("/sandboxes/{name}", response_model=SandboxRead, response_model_by_alias=True)
async def read_sandbox(name: Id, principal: PrincipalDep, uow: UoWDep) -> SandboxRead:
    """One sandbox by name."""
    return SandboxRead.model_validate(await service.get_sandbox(uow, principal, name))


@router.delete("/sandboxes/{name}", status_code=204)
async def delete_sandbox(
    name: Id, principal: PrincipalDep, uow: UoWDep, data_owners: SandboxDataOwnersDep
) -> Response:
    """Delete a sandbox (never ``prod``)."""
    await service.delete_sandbox(uow, principal, name, data_owners=data_owners)
    return Response(status_code=204)
