"""HTTP endpoints of outbound calls: ``POST /v1/events`` invokes custom actions, one event or a batch of up to
1,000 (202 once durable); ``/v1/action-calls`` reads the call ledger; ``/v1/throttling/live`` shows the
throttling configurations at work."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import request_id_parameter
from clarion.errors import Invalid
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id, text_query
from clarion.outbound import live, service
from clarion.outbound.intake import CallIntake
from clarion.outbound.schemas import (
    MAX_CONTEXT_BYTES,
    MAX_EVENTS,
    AcceptedBatch,
    AcceptedCall,
    ActionCallRead,
    CallStatus,
    Event,
    EventBatch,
    ThrottlingLive,
    encoder,
)
from clarion.tenancy.gateway import ReaderDep, UserDep

router = APIRouter(prefix="/v1", tags=["Events"])
calls_router = APIRouter(prefix="/v1", tags=["custom actions"])
"""The ledger API, documented with the custom actions it records."""
live_router = APIRouter(prefix="/v1", tags=["throttling"])
PageDep = Annotated[PageParams, Depends(page_params)]


def call_intake(request: Request) -> CallIntake:
    """The process's call intake (built by ``services.py``)."""
    intake: CallIntake = request.app.state.services.calls
    return intake


CallIntakeDep = Annotated[CallIntake, Depends(call_intake)]

_EVENT_EXAMPLE = {"action": "notify_crm", "context": {"userId": "u-1", "plan": "gold"}}


@router.post(
    "/events",
    status_code=202,
    responses={
        202: {
            "description": "Accepted: every call is durably queued (AcceptedCall for one event)",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/AcceptedCall"},
                            {"$ref": "#/components/schemas/AcceptedBatch"},
                        ]
                    }
                }
            },
        }
    },
    openapi_extra={
        "parameters": [request_id_parameter("Replays with the same id queue nothing again")],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Event"},
                            {"$ref": "#/components/schemas/EventBatch"},
                        ]
                    },
                    "examples": {
                        "one": {"value": _EVENT_EXAMPLE},
                        "batch": {"value": {"events": [_EVENT_EXAMPLE]}},
                    },
                }
            },
        },
    },
)
async def post_events(request: Request, principal: UserDep, intake: CallIntakeDep) -> Response:
    """Queue one call of a custom action per event; ``{"events": [...]}`` queues up to 1,000 at once."""
    events, batch = decode(await request.body())
    calls = await intake.accept(principal, events, request.headers.get("x-request-id"))
    body: Any = AcceptedBatch(calls) if batch else calls[0]
    return Response(encoder.encode(body), status_code=202, media_type="application/json")


def decode(body: bytes) -> tuple[list[Event], bool]:
    """The events of a body (and whether it was a batch); a 400 naming the field and the rule otherwise."""
    try:
        raw = msgspec.json.decode(body)
        batch = isinstance(raw, dict) and "events" in raw
        events = msgspec.convert(raw, EventBatch).events if batch else [msgspec.convert(raw, Event)]
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise Invalid(f"Invalid request body: {error}") from None
    if not 1 <= len(events) <= MAX_EVENTS:
        raise Invalid(f"events: between 1 and {MAX_EVENTS} are allowed (got {len(events)})")
    for index, event in enumerate(events):
        where = f"events[{index}]." if batch else ""
        if not event.action.strip():
            raise Invalid(f"{where}action: the name or id of a custom action is required")
        if len(encoder.encode(event.context)) > MAX_CONTEXT_BYTES:
            raise Invalid(f"{where}context: at most {MAX_CONTEXT_BYTES // 1024} KB are allowed")
    return events, batch


def openapi_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """Component schemas of the msgspec types above, for the application's OpenAPI document (no paths)."""
    _, components = msgspec.json.schema_components(
        (Event, EventBatch, AcceptedCall, AcceptedBatch), ref_template="#/components/schemas/{name}"
    )
    return {}, components


@calls_router.get("/action-calls", response_model=Page[ActionCallRead])
async def list_action_calls(
    principal: ReaderDep,
    uow: UoWDep,
    page: PageDep,
    action_id: Annotated[str | None, text_query(alias="actionId")] = None,
    status: CallStatus | None = None,
    since: Annotated[datetime | None, Query(description="Accepted at or after (ISO-8601 with zone)")] = None,
    until: Annotated[datetime | None, Query(description="Accepted before (ISO-8601 with zone)")] = None,
) -> Page[ActionCallRead]:
    """The action-call ledger, newest first."""
    rows, total = await service.list_calls(
        uow,
        principal,
        action_id=action_id,
        status=status,
        since=since,
        until=until,
        limit=page.limit,
        offset=page.offset,
    )
    items = [ActionCallRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@calls_router.get("/action-calls/{call_id}", response_model=ActionCallRead)
async def read_action_call(call_id: Id, principal: ReaderDep, uow: UoWDep) -> ActionCallRead:
    """One call of the ledger."""
    return ActionCallRead.model_validate(await service.get_call(uow, principal, call_id))


@live_router.get("/throttling/live", response_model=ThrottlingLive)
async def read_throttling_live(principal: ReaderDep, uow: UoWDep, container: ContainerDep) -> ThrottlingLive:
    """Each throttling configuration in force (organization-wide): its rate over the last seconds against
    its maximum, its overflow queue and how long the next call has waited. Cheap: poll it every second."""
    return await live.throttling_live(uow, container.queue, principal)
