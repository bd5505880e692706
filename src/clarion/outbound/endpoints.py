"""``POST /v1/events``: invoke custom actions, one event or a batch of up to 1,000 (202 once durable)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from clarion.api.deps import ContainerDep
from clarion.api.gateway import PrincipalDep
from clarion.errors import Invalid
from clarion.outbound.schemas import (
    MAX_CONTEXT_BYTES,
    MAX_EVENTS,
    AcceptedBatch,
    AcceptedCall,
    Event,
    EventBatch,
    encoder,
)

router = APIRouter(prefix="/v1", tags=["Events"])

_EVENT_EXAMPLE = {"action": "notify_crm", "context": {"userId": "u-1", "plan": "gold"}}


@router.post(
    "/events",
    status_code=202,
    responses={
        202: {
            "description": "Accepted: every call is durably queued",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AcceptedBatch"}}},
        }
    },
    openapi_extra={
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
        }
    },
)
async def post_events(request: Request, principal: PrincipalDep, container: ContainerDep) -> Response:
    """Queue one call of a custom action per event; ``{"events": [...]}`` queues up to 1,000 at once."""
    events, batch = decode(await request.body())
    calls = await container.calls.accept(principal, events, request.headers.get("x-request-id"))
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


def openapi_components() -> dict[str, Any]:
    """Component schemas of the msgspec types above, for the application's OpenAPI document."""
    _, components = msgspec.json.schema_components(
        (Event, EventBatch, AcceptedCall, AcceptedBatch), ref_template="#/components/schemas/{name}"
    )
    return components
