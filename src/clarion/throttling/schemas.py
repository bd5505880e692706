"""Wire shapes of the throttling and capping request bodies, for the OpenAPI document.

The endpoints read the raw body themselves (``validation.py``): a body with missing or out-of-range fields
must still be saved, with its problems in ``canDeploy``, which a validating request model would refuse.
"""

from __future__ import annotations

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
