"""HTTP endpoints of the actions domain: /v1/custom-actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from clarion.actions import service
from clarion.actions.schemas import CustomActionRead, CustomActionWrite
from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import raises
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id
from clarion.tenancy.gateway import DeveloperDep, ReaderDep

router = APIRouter(prefix="/v1", tags=["custom actions"])
PageDep = Annotated[PageParams, Depends(page_params)]


@router.post("/custom-actions", status_code=201, response_model=CustomActionRead, responses=raises(409))
async def create_custom_action(
    body: CustomActionWrite, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
) -> CustomActionRead:
    """Create a custom action in the sandbox."""
    action = await service.create_action(
        uow, principal, body, container.secrets, any_port=container.settings.custom_action_any_port
    )
    return CustomActionRead.model_validate(service.action_view(action))


@router.get("/custom-actions", response_model=Page[CustomActionRead])
async def list_custom_actions(principal: ReaderDep, uow: UoWDep, page: PageDep) -> Page[CustomActionRead]:
    """The sandbox's custom actions, by name."""
    rows, total = await service.list_actions(uow, principal, limit=page.limit, offset=page.offset)
    items = [CustomActionRead.model_validate(service.action_view(row)) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/custom-actions/{action_id}", response_model=CustomActionRead)
async def read_custom_action(action_id: Id, principal: ReaderDep, uow: UoWDep) -> CustomActionRead:
    """One custom action (never its secrets)."""
    action = await service.get_action(uow, principal, action_id)
    return CustomActionRead.model_validate(service.action_view(action))


@router.put("/custom-actions/{action_id}", response_model=CustomActionRead, responses=raises(409))
async def replace_custom_action(
    action_id: Id, body: CustomActionWrite, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
) -> CustomActionRead:
    """Replace a custom action (a new version); omitted secrets are kept."""
    action = await service.replace_action(
        uow,
        principal,
        action_id,
        body,
        container.secrets,
        any_port=container.settings.custom_action_any_port,
    )
    return CustomActionRead.model_validate(service.action_view(action))


@router.delete("/custom-actions/{action_id}", status_code=204)
async def delete_custom_action(action_id: Id, principal: DeveloperDep, uow: UoWDep) -> Response:
    """Delete a custom action (its recorded calls stay in the ledger)."""
    await service.delete_action(uow, principal, action_id)
    return Response(status_code=204)
