"""The AJO execution API. The two trigger endpoints are plain functions of a Starlette ``Request`` with
msgspec decoding, dispatched ahead of FastAPI's router (``api.hotpath``), and documented through
``openapi_paths``; the audience and schedule endpoints are ordinary FastAPI routes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from clarion.api.deps import UoWDep
from clarion.api.openapi import SECURITY, raises, request_id_parameter
from clarion.executions import audience, service
from clarion.executions.schemas import (
    AudienceRequest,
    ExecutionRequest,
    ExecutionResponse,
    ExecutionStatusResponse,
    ScheduledExecutionResponse,
    encoder,
)
from clarion.kit.params import Id
from clarion.tenancy.gateway import Gateway, ReaderDep, UserDep
from clarion.tenancy.principal import Role

JSON = "application/json"
TRIGGER_ROLE = Role.USER
"""The role the two trigger routes require (they bypass FastAPI's dependencies, so they name it here)."""


async def unitary(request: Request) -> Response:
    """``POST /ajo/im/executions/unitary``: standard mode."""
    return await _execute(request, service.STANDARD)


async def high_throughput(request: Request) -> Response:
    """``POST /ajo/im/executions/highthroughput``: high-throughput mode (no profile is ever read)."""
    return await _execute(request, service.HIGH_THROUGHPUT)


async def _execute(request: Request, mode: service.Mode) -> Response:
    # The hot path: authenticate at the HTTP edge, one call into the domain, encode the answer.
    services = request.app.state.services
    gateway: Gateway = services.gateway
    executions: service.Executions = services.executions
    principal = await gateway.authenticate(request.headers, role=TRIGGER_ROLE)
    answer = await executions.trigger(
        principal, request.body, mode, request.headers.get("x-request-id") or None
    )
    return Response(encoder.encode(answer), status_code=202, media_type=JSON)


HOT_ROUTES = {
    ("POST", "/ajo/im/executions/unitary"): unitary,
    ("POST", "/ajo/im/executions/highthroughput"): high_throughput,
}
"""Served by ``api.hotpath`` ahead of FastAPI's router (see there why)."""


SCHEMA_TYPES = (
    ExecutionRequest,
    ExecutionResponse,
    AudienceRequest,
    ExecutionStatusResponse,
    ScheduledExecutionResponse,
)
REQUEST_ID_HEADER = request_id_parameter("Replays with the same id within 24 h send nothing again")


def _ref(struct: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{struct.__name__}"}


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenAPI path items and component schemas of the Starlette routes (generated from the msgspec types)."""
    _, components = msgspec.json.schema_components(SCHEMA_TYPES, ref_template="#/components/schemas/{name}")

    def operation(summary: str, operation_id: str) -> dict[str, Any]:
        return {
            "post": {
                "tags": ["executions"],
                "summary": summary,
                "operationId": operation_id,
                "security": SECURITY,
                "parameters": [REQUEST_ID_HEADER],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref(ExecutionRequest)}}},
                "responses": {
                    "202": {
                        "description": "Accepted: durably stored",
                        "content": {JSON: {"schema": _ref(ExecutionResponse)}},
                    },
                    **{str(status): response for status, response in raises(429).items()},
                },
            }
        }

    paths = {
        "/ajo/im/executions/unitary": operation(
            "Trigger a standard API campaign", "postIMUnitaryMessageExecution"
        ),
        "/ajo/im/executions/highthroughput": operation(
            "Trigger a high-throughput API campaign", "postIMUnitaryHAMessageExecution"
        ),
    }
    return paths, components


router = APIRouter(prefix="/ajo/im/executions", tags=["executions"])


@router.post(
    "/audience",
    status_code=202,
    summary="Execute a campaign for an audience, now or at schedule.executeAt",
    responses={
        202: {
            "description": "imExecutionResponse, or ScheduledExecutionResponse with schedule.executeAt",
            "content": {
                JSON: {"schema": {"anyOf": [_ref(ExecutionResponse), _ref(ScheduledExecutionResponse)]}}
            },
        }
    },
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": _ref(AudienceRequest)}}}},
)
async def audience_execution(request: Request, principal: UserDep, uow: UoWDep) -> Response:
    """``imExecutionResponse``, or ``ScheduledExecutionResponse`` when ``schedule.executeAt`` is given."""
    body = await request.body()
    result = await audience.submit(uow, principal, audience.decode(body), body_size=len(body))
    return Response(encoder.encode(result), status_code=202, media_type=JSON)


@router.get(
    "/audience/{execution_id}",
    summary="Status of an audience execution",
    responses={200: {"content": {JSON: {"schema": _ref(ExecutionStatusResponse)}}}},
)
async def audience_execution_status(execution_id: Id, principal: ReaderDep, uow: UoWDep) -> Response:
    """``executionStatusResponse``."""
    return Response(encoder.encode(await audience.status(uow, principal, execution_id)), media_type=JSON)


@router.get(
    "/schedules/{schedule_id}",
    summary="A scheduled execution",
    responses={200: {"content": {JSON: {"schema": _ref(ScheduledExecutionResponse)}}}},
)
async def scheduled_execution(schedule_id: Id, principal: ReaderDep, uow: UoWDep) -> Response:
    """``ScheduledExecutionResponse`` with its execution details."""
    return Response(encoder.encode(await audience.schedule(uow, principal, schedule_id)), media_type=JSON)


@router.delete(
    "/schedules/{schedule_id}",
    summary="Delete a scheduled execution before it is triggered",
    responses={200: {"content": {JSON: {"schema": {"type": "object", "maxProperties": 0}}}}},
)
async def delete_scheduled_execution(schedule_id: Id, principal: UserDep, uow: UoWDep) -> Response:
    """200 ``{}``; 400 once triggered."""
    await audience.cancel(uow, principal, schedule_id)
    return Response(b"{}", media_type=JSON)
