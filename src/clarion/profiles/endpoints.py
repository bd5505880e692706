"""HTTP endpoints of the profile store (``/v1/profiles``).

A profile is addressed by any of its identities: ``/v1/profiles/{namespace}/{value}`` (the value may hold
``/``; values of the ``email`` namespace match whatever their case).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from clarion.api.deps import UoWDep
from clarion.api.openapi import raises
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import offset_query, text_query
from clarion.profiles import service
from clarion.profiles.schemas import BatchResult, ProfileBatch, ProfileRead, ProfileWrite
from clarion.tenancy.gateway import ReaderDep, UserDep

router = APIRouter(prefix="/v1", tags=["profiles"])
PageDep = Annotated[PageParams, Depends(page_params)]
PROFILE_PATH = "/profiles/{namespace}/{identity_value:path}"


@router.post(
    "/profiles:batch", response_model=BatchResult, response_model_exclude_none=True, responses=raises(409)
)
async def write_profiles(body: ProfileBatch, principal: UserDep, uow: UoWDep) -> BatchResult:
    """Upsert up to 1,000 profiles in one transaction; a result per item (200, 201 or 4xx with the reason)."""
    return BatchResult.model_validate({"results": await service.write_batch(uow, principal, body.profiles)})


@router.put(PROFILE_PATH, response_model=ProfileRead, responses={201: {"model": ProfileRead}, **raises(409)})
async def upsert_profile(
    namespace: str,
    identity_value: str,
    body: ProfileWrite,
    principal: UserDep,
    uow: UoWDep,
    response: Response,
) -> ProfileRead:
    """Upsert the profile owning this identity: deep-merge attributes (null removes), add identities."""
    view, created = await service.upsert(uow, principal, namespace, identity_value, body)
    response.status_code = 201 if created else 200
    return ProfileRead.model_validate(view)


@router.get(PROFILE_PATH, response_model=ProfileRead)
async def read_profile(namespace: str, identity_value: str, principal: ReaderDep, uow: UoWDep) -> ProfileRead:
    """The profile owning this identity, with its audience memberships."""
    return ProfileRead.model_validate(await service.get(uow, principal, namespace, identity_value))


@router.delete(PROFILE_PATH, status_code=204)
async def delete_profile(namespace: str, identity_value: str, principal: UserDep, uow: UoWDep) -> Response:
    """Delete the profile owning this identity, with all its identities and audience memberships."""
    await service.delete(uow, principal, namespace, identity_value)
    return Response(status_code=204)


@router.get("/profiles", response_model=Page[ProfileRead])
async def list_profiles(
    principal: ReaderDep,
    uow: UoWDep,
    page: PageDep,
    namespace: Annotated[str | None, text_query("Only profiles with an identity here")] = None,
    start: Annotated[int | None, offset_query("Alias of offset")] = None,
) -> Page[ProfileRead]:
    """Profiles of the sandbox, oldest first."""
    offset = page.offset if start is None else start
    views, total = await service.list_profiles(
        uow, principal, namespace=namespace, limit=page.limit, offset=offset
    )
    items = [ProfileRead.model_validate(view) for view in views]
    return Page(items=items, total=total, limit=page.limit, offset=offset)
