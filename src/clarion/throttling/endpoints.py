"""HTTP endpoints of the Throttling API (``/throttlingConfigs``) and the Capping API (``/endpointConfigs``).

Both APIs have the same nine routes, built here once from each kind's service functions. ``router`` is
mounted under every prefix of ``PREFIXES`` (contract §3.1 [I]); errors leave in the Journey Orchestration
envelope, which ``api/envelopes.family_for`` picks for both prefixes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import json_body
from clarion.db.uow import UnitOfWork
from clarion.kit.params import Id, text_query
from clarion.tenancy.gateway import DeveloperDep, ReaderDep
from clarion.throttling import capping, service
from clarion.throttling.errors import state_codes
from clarion.throttling.lifecycle import Caller
from clarion.throttling.schemas import (
    CanDeployAnswer,
    ConfigResult,
    ConfigResults,
    Deleted,
    EndpointConfigWrite,
    ThrottlingConfigWrite,
    WriteAnswer,
)

PREFIXES = ("/journey/orchestration", "/authoring")

View = dict[str, Any]


async def reading_caller(principal: ReaderDep, container: ContainerDep) -> Caller:
    """A caller that only reads (list, get, canDeploy), with the configured numbering of the state errors."""
    return Caller(principal, state_codes(documented=container.settings.throttling_documented_codes))


async def developing_caller(principal: DeveloperDep, container: ContainerDep) -> Caller:
    """A caller that changes configurations (``developer`` or above)."""
    return Caller(principal, state_codes(documented=container.settings.throttling_documented_codes))


ReaderCallerDep = Annotated[Caller, Depends(reading_caller)]
DeveloperCallerDep = Annotated[Caller, Depends(developing_caller)]
ForceDelete = Annotated[str | None, text_query("'true': undeploy, then delete", alias="forceDelete")]


class DeleteFunction(Protocol):
    """A service's delete: ``force`` is ``forceDelete=true``."""

    def __call__(self, uow: UnitOfWork, caller: Caller, uid: str, *, force: bool) -> Awaitable[View]:
        """Delete the configuration ``uid``."""
        ...


@dataclass(frozen=True, slots=True)
class ConfigApi:
    """One kind of configuration: its collection name and the service function behind each route."""

    collection: str
    body: dict[str, Any]
    list: Callable[[UnitOfWork, Caller], Awaitable[View]]
    create: Callable[[UnitOfWork, Caller, bytes], Awaitable[View]]
    get: Callable[[UnitOfWork, Caller, str], Awaitable[View]]
    update: Callable[[UnitOfWork, Caller, str, bytes], Awaitable[View]]
    delete: DeleteFunction
    can_deploy: Callable[[UnitOfWork, Caller, str], Awaitable[View]]
    deploy: Callable[[UnitOfWork, Caller, str], Awaitable[None]]
    undeploy: Callable[[UnitOfWork, Caller, str], Awaitable[None]]


THROTTLING = ConfigApi(
    collection=service.COLLECTION,
    body=json_body(ThrottlingConfigWrite),
    list=service.list_configs,
    create=service.create,
    get=service.get,
    update=service.update,
    delete=service.delete,
    can_deploy=service.can_deploy,
    deploy=service.deploy,
    undeploy=service.undeploy,
)
CAPPING = ConfigApi(
    collection=capping.COLLECTION,
    body=json_body(EndpointConfigWrite),
    list=capping.list_configs,
    create=capping.create,
    get=capping.get,
    update=capping.update,
    delete=capping.delete,
    can_deploy=capping.can_deploy,
    deploy=capping.deploy,
    undeploy=capping.undeploy,
)


def answers(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route whose 200 body is ``model`` (the routes return the service's view)."""
    return {200: {"model": model}}


def build_router(*apis: ConfigApi) -> APIRouter:
    """A router with the nine routes of each API."""
    router = APIRouter()
    for api in apis:
        _add_collection_routes(router, api)
        _add_item_routes(router, api)
        _add_deployment_routes(router, api)
    return router


def _add_collection_routes(router: APIRouter, api: ConfigApi) -> None:
    tags: list[str | Enum] = [api.collection]

    @router.post(
        f"/list/{api.collection}", tags=tags, name=f"list_{api.collection}", responses=answers(ConfigResults)
    )
    async def list_configs(uow: UoWDep, caller: ReaderCallerDep) -> JSONResponse:
        """List the configurations (``{"results": [...]}``); the body is optional and ignored."""
        return JSONResponse(await api.list(uow, caller))

    @router.post(
        f"/{api.collection}",
        tags=tags,
        name=f"create_{api.collection}",
        openapi_extra=api.body,
        responses=answers(WriteAnswer),
    )
    async def create(request: Request, uow: UoWDep, caller: DeveloperCallerDep) -> JSONResponse:
        """Create a configuration (200); ``canDeploy`` tells whether it can be deployed."""
        return JSONResponse(await api.create(uow, caller, await request.body()))


def _add_item_routes(router: APIRouter, api: ConfigApi) -> None:
    tags: list[str | Enum] = [api.collection]
    path = f"/{api.collection}/{{uid}}"

    @router.get(path, tags=tags, name=f"get_{api.collection}", responses=answers(ConfigResult))
    async def get(uid: Id, uow: UoWDep, caller: ReaderCallerDep) -> JSONResponse:
        """One configuration (``{"result": …}``)."""
        return JSONResponse(await api.get(uow, caller, uid))

    @router.put(
        path,
        tags=tags,
        name=f"update_{api.collection}",
        openapi_extra=api.body,
        responses=answers(WriteAnswer),
    )
    async def update(uid: Id, request: Request, uow: UoWDep, caller: DeveloperCallerDep) -> JSONResponse:
        """Overwrite a configuration with the body (every required field again)."""
        return JSONResponse(await api.update(uow, caller, uid, await request.body()))

    @router.delete(path, tags=tags, name=f"delete_{api.collection}", responses=answers(Deleted))
    async def delete(
        uid: Id, uow: UoWDep, caller: DeveloperCallerDep, force_delete: ForceDelete = None
    ) -> JSONResponse:
        """Delete a configuration; a deployed one only with ``forceDelete=true``."""
        force = (force_delete or "").lower() == "true"
        return JSONResponse(await api.delete(uow, caller, uid, force=force))


def _add_deployment_routes(router: APIRouter, api: ConfigApi) -> None:
    tags: list[str | Enum] = [api.collection]
    path = f"/{api.collection}/{{uid}}"

    async def can_deploy(uid: Id, uow: UoWDep, caller: ReaderCallerDep) -> JSONResponse:
        """Whether the configuration can be deployed, with the blocking errors and the warnings."""
        return JSONResponse(await api.can_deploy(uow, caller, uid))

    # The spec says GET, the documentation's table POST (contract §3.2 CONFLICT): both are served.
    for method in ("GET", "POST"):
        router.add_api_route(
            f"{path}/canDeploy",
            can_deploy,
            methods=[method],
            tags=tags,
            name=f"can_deploy_{api.collection}_{method.lower()}",
            responses=answers(CanDeployAnswer),
        )

    @router.post(f"{path}/deploy", tags=tags, name=f"deploy_{api.collection}", status_code=204)
    async def deploy(uid: Id, uow: UoWDep, caller: DeveloperCallerDep) -> Response:
        """Deploy the configuration (204, empty)."""
        await api.deploy(uow, caller, uid)
        return Response(status_code=204)

    @router.post(f"{path}/undeploy", tags=tags, name=f"undeploy_{api.collection}", status_code=204)
    async def undeploy(uid: Id, uow: UoWDep, caller: DeveloperCallerDep) -> Response:
        """Undeploy the configuration (204, empty; also when it was not deployed)."""
        await api.undeploy(uow, caller, uid)
        return Response(status_code=204)


router = build_router(THROTTLING, CAPPING)
