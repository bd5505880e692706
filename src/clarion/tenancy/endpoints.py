"""HTTP endpoints of the tenancy domain (/v1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import raises
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id
from clarion.tenancy import errors, service
from clarion.tenancy.gateway import AdminDep, ReaderDep
from clarion.tenancy.principal import Principal
from clarion.tenancy.schemas import (
    CredentialCreate,
    CredentialRead,
    IssuedTokenRead,
    OrganizationRead,
    SandboxCreate,
    SandboxRead,
    TokenRead,
)
from clarion.tenancy.service import CredentialView, NewCredential, SandboxDataOwner, TokenView

router = APIRouter(prefix="/v1", tags=["tenancy"])


def sandbox_data_owners(request: Request) -> Sequence[SandboxDataOwner]:
    """The domains that delete their rows with a sandbox (named by ``services.py``)."""
    owners: Sequence[SandboxDataOwner] = request.app.state.services.sandbox_data_owners
    return owners


SandboxDataOwnersDep = Annotated[Sequence[SandboxDataOwner], Depends(sandbox_data_owners)]


@router.get("/organization", response_model=OrganizationRead)
async def read_organization(principal: ReaderDep) -> OrganizationRead:
    """The caller's organization, entitlements and current sandbox."""
    return OrganizationRead(
        orgId=principal.ims_org_id,
        name=principal.ims_org_id,
        highThroughputEntitled=principal.high_throughput_entitled,
        standardRatePerSecond=principal.standard_rate_per_second,
        highThroughputRatePerSecond=principal.high_throughput_rate_per_second,
        standardMonthlyQuota=principal.standard_monthly_quota,
        highThroughputMonthlyQuota=principal.high_throughput_monthly_quota,
        quotaMode=principal.quota_mode,
        sandbox=principal.sandbox_name,
        role=principal.role.value,
    )


@router.get("/sandboxes", response_model=Page[SandboxRead], response_model_by_alias=True)
async def list_sandboxes(
    principal: ReaderDep, uow: UoWDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[SandboxRead]:
    """The organization's sandboxes."""
    sandboxes, total = await service.list_sandboxes(uow, principal, limit=page.limit, offset=page.offset)
    items = [SandboxRead.model_validate(sandbox) for sandbox in sandboxes]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/sandboxes",
    status_code=201,
    response_model=SandboxRead,
    response_model_by_alias=True,
    responses=raises(409),
)
async def create_sandbox(body: SandboxCreate, principal: AdminDep, uow: UoWDep) -> SandboxRead:
    """Create a sandbox in the caller's organization."""
    sandbox = await service.create_sandbox(
        uow, principal.org_id, name=body.name, sandbox_type=body.type, title=body.title
    )
    return SandboxRead.model_validate(sandbox)


@router.get("/sandboxes/{name}", response_model=SandboxRead, response_model_by_alias=True)
async def read_sandbox(name: Id, principal: ReaderDep, uow: UoWDep) -> SandboxRead:
    """One sandbox by name."""
    return SandboxRead.model_validate(await service.get_sandbox(uow, principal, name))


@router.delete("/sandboxes/{name}", status_code=204)
async def delete_sandbox(
    name: Id, principal: AdminDep, uow: UoWDep, data_owners: SandboxDataOwnersDep
) -> Response:
    """Delete a sandbox (never ``prod``)."""
    await service.delete_sandbox(uow, principal, name, data_owners=data_owners)
    return Response(status_code=204)


# API keys and tokens of the caller's organization: admin only, reads included (they describe who may act).


@router.get("/credentials", response_model=Page[CredentialRead])
async def list_credentials(
    principal: AdminDep,
    uow: UoWDep,
    page: Annotated[PageParams, Depends(page_params)],
    include_revoked: Annotated[bool, Query(alias="includeRevoked")] = False,
) -> Page[CredentialRead]:
    """The organization's API keys with their role and last use."""
    org = await service.get_organization(uow, principal.org_id)
    views = await service.list_credentials(uow, org, include_revoked=include_revoked)
    items = [_credential(view) for view in views[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(views), limit=page.limit, offset=page.offset)


@router.post("/credentials", status_code=201, response_model=IssuedTokenRead)
async def create_credential(
    body: CredentialCreate, principal: AdminDep, uow: UoWDep, container: ContainerDep
) -> IssuedTokenRead:
    """Create an API key with its first token (the token is shown only in this answer)."""
    org = await service.get_organization(uow, principal.org_id)
    role = service.parse_role(body.role) if body.role else None
    issued = await service.create_credential(
        uow, org, name=body.name, role=role, ttl_seconds=container.settings.token_ttl_seconds
    )
    return _issued(issued)


@router.get("/credentials/{client_id}", response_model=CredentialRead)
async def read_credential(client_id: str, principal: AdminDep, uow: UoWDep) -> CredentialRead:
    """One API key."""
    org = await service.get_organization(uow, principal.org_id)
    return _credential(await service.get_credential(uow, org, client_id))


@router.delete("/credentials/{client_id}", status_code=204)
async def revoke_credential(client_id: str, principal: AdminDep, uow: UoWDep) -> Response:
    """Revoke an API key and all its tokens (refused within a second everywhere); not the key calling."""
    _not_own_key(principal, client_id)
    org = await service.get_organization(uow, principal.org_id)
    await service.revoke_credential(uow, org, client_id)
    return Response(status_code=204)


@router.get("/credentials/{client_id}/tokens", response_model=list[TokenRead])
async def list_tokens(client_id: str, principal: AdminDep, uow: UoWDep) -> list[TokenRead]:
    """The unexpired tokens of an API key (ids, never secrets), newest first."""
    org = await service.get_organization(uow, principal.org_id)
    return [_token(view) for view in await service.list_tokens(uow, org, client_id)]


@router.post("/credentials/{client_id}/tokens", status_code=201, response_model=IssuedTokenRead)
async def issue_token(
    client_id: str, principal: AdminDep, uow: UoWDep, container: ContainerDep
) -> IssuedTokenRead:
    """Issue a new token for an API key (shown only in this answer)."""
    org = await service.get_organization(uow, principal.org_id)
    issued = await service.issue_token(
        uow, org, client_id=client_id, ttl_seconds=container.settings.token_ttl_seconds
    )
    return _issued(issued)


@router.delete("/credentials/{client_id}/tokens/{token_id}", status_code=204)
async def revoke_token(client_id: str, token_id: str, principal: AdminDep, uow: UoWDep) -> Response:
    """Revoke one token of an API key."""
    org = await service.get_organization(uow, principal.org_id)
    await service.revoke_token(uow, org, token_id, client_id=client_id)
    return Response(status_code=204)


def _not_own_key(principal: Principal, client_id: str) -> None:
    # Revoking the key that makes the request would lock the caller out mid-conversation; an admin
    # revokes it with another admin key, or with `clarion credentials revoke`.
    if client_id == principal.client_id:
        raise errors.CredentialInvalid(
            "clientId: the API key making this request cannot revoke itself "
            "(use another admin key or the CLI)"
        )


def _credential(view: CredentialView) -> CredentialRead:
    return CredentialRead(
        clientId=view.client_id,
        name=view.name,
        role=view.role.value,
        technicalAccount=view.technical_account,
        createdAt=view.created_at,
        lastUsedAt=view.last_used_at,
        revokedAt=view.revoked_at,
    )


def _token(view: TokenView) -> TokenRead:
    return TokenRead(
        tokenId=view.token_id,
        clientId=view.client_id,
        createdAt=view.created_at,
        expiresAt=view.expires_at,
        revokedAt=view.revoked_at,
    )


def _issued(issued: NewCredential) -> IssuedTokenRead:
    return IssuedTokenRead(
        clientId=issued.client_id,
        role=issued.role.value,
        orgId=issued.org.ims_org_id,
        tokenId=issued.token.token_id,
        accessToken=issued.token.access_token,
        expiresIn=issued.token.expires_in_seconds,
    )
