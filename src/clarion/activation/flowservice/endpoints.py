"""HTTP endpoints of the Flow Service (``/data/foundation/flowservice``): specs, connections, flows.

Bodies are taken as plain JSON and read by the service (Flow Service answers bad bodies in its own
codes); list parameters are read from the raw query string, where Adobe's examples put bare filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response
from pydantic import BaseModel
from starlette.responses import JSONResponse

from clarion.activation.flowservice import connections, flows, specs
from clarion.activation.flowservice.etags import quoted
from clarion.activation.listing import ListQueryDep
from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import raises
from clarion.kit.params import Id, text_query
from clarion.tenancy.gateway import DeveloperDep, ReaderDep

PREFIX = "/data/foundation/flowservice"
router = APIRouter(tags=["activation"])
BodyDep = Annotated[Any, Body()]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='The etag read, e.g. "\\"…\\""')]


class Created(BaseModel):
    """The answer of a create (201) or an update (200): the entity's id and its new etag."""

    id: str
    etag: str


CREATED: dict[int | str, dict[str, Any]] = {
    200: {"model": Created},
    201: {"model": Created},
}


def created(entity_id: str, etag: str, status: int = 201) -> JSONResponse:
    """The ``{"id", "etag"}`` answer of a create (201) or an update (200)."""
    return JSONResponse({"id": entity_id, "etag": quoted(etag)}, status)


# Specs ---------------------------------------------------------------------------------------------------


@router.get(f"{PREFIX}/connectionSpecs")
async def list_connection_specs(principal: ReaderDep, query: ListQueryDep) -> dict[str, Any]:
    """The connection specs Clarion serves (SFTP, Amazon S3, local folder, Profile store)."""
    return specs.connection_spec_page(query, "/connectionSpecs")


@router.get(f"{PREFIX}/connectionSpecs/{{spec_id}}")
async def read_connection_spec(spec_id: Id, principal: ReaderDep) -> dict[str, Any]:
    """One connection spec (aliases such as the Data Landing Zone id answer with the spec they stand for)."""
    return specs.connection_spec_item(spec_id)


@router.get(f"{PREFIX}/flowSpecs")
async def list_flow_specs(principal: ReaderDep, query: ListQueryDep) -> dict[str, Any]:
    """The destination flow specs Clarion serves."""
    return specs.flow_spec_page(query, "/flowSpecs")


@router.get(f"{PREFIX}/flowSpecs/{{spec_id}}")
async def read_flow_spec(spec_id: Id, principal: ReaderDep) -> dict[str, Any]:
    """One flow spec."""
    return specs.flow_spec_item(spec_id)


# Connections (base, source, target: the same five routes each) -------------------------------------------


def _connection_routes(kind: str, resource: str) -> None:
    path = f"{PREFIX}/{resource}"

    async def create(
        body: BodyDep, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
    ) -> JSONResponse:
        connection = await connections.create(uow, principal, kind, body, container.secrets)
        return created(connection.id, connection.etag)

    async def search(principal: ReaderDep, uow: UoWDep, query: ListQueryDep) -> dict[str, Any]:
        """``{items, _links}``, most recently changed first, or ``{count}``."""
        return await connections.search(uow, principal, kind, query, f"/{resource}")

    async def read(connection_id: Id, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
        """``{items: [connection]}`` (secrets masked)."""
        return await connections.item(uow, principal, kind, connection_id)

    async def patch(
        connection_id: Id,
        principal: DeveloperDep,
        uow: UoWDep,
        container: ContainerDep,
        if_match: IfMatch = None,
        body: BodyDep = None,
    ) -> JSONResponse:
        """200 ``{id, etag}`` with the new etag."""
        connection = await connections.patch(
            uow, principal, kind, connection_id, if_match=if_match, operations=body, box=container.secrets
        )
        return created(connection.id, connection.etag, 200)

    async def delete(connection_id: Id, principal: DeveloperDep, uow: UoWDep) -> Response:
        """202, empty body."""
        await connections.delete(uow, principal, kind, connection_id)
        return Response(status_code=202)

    name = resource[0].upper() + resource[1:-1]
    summaries = {
        "create": f"Create a {kind} connection",
        "search": f"List {kind} connections (property filters, orderby, limit, count, continuationToken)",
        "read": f"One {kind} connection, as {{items: [connection]}}",
        "patch": f"Update a {kind} connection with JSON Patch (If-Match required)",
        "delete": f"Delete a {kind} connection nothing uses",
    }
    routes: tuple[tuple[str, str, str, Callable[..., Any], int, dict[int | str, dict[str, Any]]], ...] = (
        ("create", path, "POST", create, 201, {**CREATED, **raises(422)}),
        ("search", path, "GET", search, 200, {}),
        ("read", f"{path}/{{connection_id}}", "GET", read, 200, {}),
        ("patch", f"{path}/{{connection_id}}", "PATCH", patch, 200, {**CREATED, **raises(412)}),
        ("delete", f"{path}/{{connection_id}}", "DELETE", delete, 202, {}),
    )
    for verb, route, method, endpoint, status, responses in routes:
        router.add_api_route(
            route,
            endpoint,
            methods=[method],
            status_code=status,
            responses=responses,
            response_class=Response if verb == "delete" else JSONResponse,
            summary=summaries[verb],
            operation_id=f"{verb}{name}",
            name=f"{verb}{name}",
        )
        if "{" in route:
            # flow-service.yaml writes PATCH/DELETE of a connection with a trailing slash; serve both.
            router.add_api_route(
                f"{route}/", endpoint, methods=[method], status_code=status, include_in_schema=False
            )


_connection_routes("base", "connections")
_connection_routes("source", "sourceConnections")
_connection_routes("target", "targetConnections")


# Flows ---------------------------------------------------------------------------------------------------


@router.post(f"{PREFIX}/flows", status_code=201, responses={**CREATED, **raises(422)})
async def create_flow(body: BodyDep, principal: DeveloperDep, uow: UoWDep) -> JSONResponse:
    """Create a dataflow from the Profile store to a destination (201 ``{id, etag}``)."""
    flow = await flows.create_flow(uow, principal, body)
    return created(flow.id, flow.etag)


@router.get(f"{PREFIX}/flows")
async def list_flows(principal: ReaderDep, uow: UoWDep, query: ListQueryDep) -> dict[str, Any]:
    """The sandbox's dataflows, most recently changed first."""
    return await flows.search_flows(uow, principal, query, "/flows")


@router.get(f"{PREFIX}/flows/{{flow_id}}")
async def read_flow(flow_id: Id, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """One dataflow, as ``{items: [flow]}``."""
    return await flows.flow_item(uow, principal, flow_id)


@router.patch(f"{PREFIX}/flows/{{flow_id}}", responses={**CREATED, **raises(412)})
async def patch_flow(
    flow_id: Id, principal: DeveloperDep, uow: UoWDep, if_match: IfMatch = None, body: BodyDep = None
) -> JSONResponse:
    """Update a dataflow with JSON Patch (add/remove/replace/test) under ``If-Match``; 200 ``{id, etag}``."""
    flow = await flows.patch_flow(uow, principal, flow_id, if_match=if_match, operations=body)
    return created(flow.id, flow.etag, 200)


@router.delete(f"{PREFIX}/flows/{{flow_id}}", status_code=202, response_class=Response)
async def delete_flow(flow_id: Id, principal: DeveloperDep, uow: UoWDep) -> Response:
    """Delete a dataflow and its runs."""
    await flows.delete_flow(uow, principal, flow_id)
    return Response(status_code=202)


@router.post(f"{PREFIX}/flows/{{flow_id}}/action", responses={**CREATED, **raises(412)})
async def act_on_flow(
    flow_id: Id,
    principal: DeveloperDep,
    uow: UoWDep,
    op: Annotated[str, text_query("enable or disable")],
    if_match: IfMatch = None,
) -> JSONResponse:
    """Enable or disable a dataflow (a disabled flow is not scheduled); 200 ``{id, etag}``."""
    flow = await flows.act_on_flow(uow, principal, flow_id, op=op, if_match=if_match)
    return created(flow.id, flow.etag, 200)
