"""Wire shapes of the throttling and capping request bodies, for the OpenAPI document.

The endpoints read the raw body themselves (``validation.py``): a body with missing or out-of-range fields
must still be saved, with its problems in ``canDeploy``, which a validating request model would refuse.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clarion.throttling.validation import MAX_THROUGHPUT, MIN_THROUGHPUT


class ThrottlingConfigWrite(BaseModel):
    """A throttling configuration (create, or full overwrite on update)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    description: str | None = None
    urlPattern: str = Field(
        description="Absolute http(s) URL; '*' allowed in the path and query, never in scheme, host, port",
        examples=["https://api.example.org/data/2.5/*"],
    )
    methods: list[str] = Field(description="HTTP methods, e.g. POST, PUT", examples=[["POST", "PUT"]])
    maxThroughput: int = Field(ge=MIN_THROUGHPUT, le=MAX_THROUGHPUT, description="Calls per second")


class CallRating(BaseModel):
    """At most ``maxCallsCount`` calls per ``periodInMs`` milliseconds."""

    maxCallsCount: int = Field(ge=1)
    periodInMs: int = Field(ge=1)


class CappingService(BaseModel):
    """The capping of one service kind."""

    maxHttpConnections: int | None = Field(default=None, ge=1, description="Absent: no connection limit")
    rating: CallRating


class CappingServices(BaseModel):
    """Exactly one of ``action`` or ``dataSource``."""

    action: CappingService | None = None
    dataSource: CappingService | None = None


class EndpointConfigWrite(BaseModel):
    """A capping (endpoint) configuration (create, or full overwrite on update)."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(description="The endpoint; '*' allowed in the path, never in host:port")
    methods: list[str] = Field(description="GET, POST, PUT, PATCH, DELETE, OPTION")
    services: CappingServices
    orgId: str | None = Field(default=None, description="Ignored: the organization is the caller's")


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body (references inlined)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, definitions)}},
        }
    }


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node
