"""Wire shapes of the throttling and capping request bodies and answers, for the OpenAPI document.

The endpoints read the raw body themselves (``validation.py``): a body with missing or out-of-range fields
must still be saved, with its problems in ``canDeploy``, which a validating request model would refuse.
"""

from __future__ import annotations

from typing import Literal

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


# Answers (documentation of the views built by service.py and capping.py) ----------------------------------


class ConfigView(BaseModel):
    """A configuration as the API shows it: its kind's fields, its identity and its lifecycle."""

    model_config = ConfigDict(extra="allow")

    uid: str
    orgId: str
    sandboxId: str
    sandboxName: str
    state: str
    metadata: dict[str, str]
    authoringFormatVersion: str


class DeployIssue(BaseModel):
    """A reason the configuration cannot be deployed."""

    errorCode: str
    error: str


class DeployNotice(BaseModel):
    """A warning that does not block deployment."""

    warningCode: str
    warning: str
    scope: dict[str, str]


class CanDeploy(BaseModel):
    """Whether the configuration can be deployed."""

    validationStatus: Literal["ok", "error"]
    reason: str | None = None
    errors: list[DeployIssue] | None = None
    warnings: list[DeployNotice] | None = None


class CanDeployAnswer(BaseModel):
    """The ``canDeploy`` answer."""

    canDeploy: CanDeploy


class ConfigResult(BaseModel):
    """One configuration."""

    result: ConfigView


class ConfigResults(BaseModel):
    """The list answer."""

    results: list[ConfigView]


class WriteAnswer(BaseModel):
    """The create (``createdElement``) or update (``updatedElement``) answer."""

    uid: str
    uri: str
    resStatus: Literal["created", "updated"]
    canDeploy: CanDeploy
    createdElement: ConfigView | None = None
    updatedElement: ConfigView | None = None


class Deleted(BaseModel):
    """The delete answer: an empty object."""

    model_config = ConfigDict(extra="forbid")
