"""Request bodies of the Flow Service API (destinations.yaml create requests), and the contracts of the
flows that ``service.py`` hands to the runs sub-package (selectors, schedules, target, export shape).

Bodies arrive as plain JSON and are read here rather than in FastAPI's signature, so that a bad body
answers in Flow Service's own codes (1405 empty body, 1100 invalid request, 1410 ``state`` on create)
instead of the generic validation envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clarion.activation.errors import EmptyBody, FlowInvalid, catalogue

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SpecRef(_Body):
    """``connectionSpec`` / ``flowSpec``: an id and its version (``1.0``)."""

    id: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=16)


class FlowSpecRef(SpecRef):
    """``flowSpec``: the version may be left out (it is ``1.0``)."""

    version: str = Field(default="1.0", min_length=1, max_length=16)


class AuthBody(_Body):
    """``auth``: the scheme (``specName``) and its parameters."""

    spec_name: str = Field(alias="specName", min_length=1, max_length=128)
    params: dict[str, Any] = Field(default_factory=dict)


class _Named(_Body):
    name: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=4000)


class ConnectionCreate(_Named):
    """``POST /connections``: a base connection (credentials of a destination)."""

    connection_spec: SpecRef = Field(alias="connectionSpec")
    auth: AuthBody | None = None


class SourceConnectionCreate(_Named):
    """``POST /sourceConnections``: the Profile store source."""

    connection_spec: SpecRef = Field(alias="connectionSpec")
    base_connection_id: str | None = Field(default=None, alias="baseConnectionId", max_length=36)
    data: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class TargetConnectionCreate(_Named):
    """``POST /targetConnections``: file format and location at a destination."""

    connection_spec: SpecRef = Field(alias="connectionSpec")
    base_connection_id: str = Field(alias="baseConnectionId", min_length=1, max_length=36)
    data: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class FlowCreate(_Named):
    """``POST /flows``: one source connection, one target connection, the transformations."""

    flow_spec: FlowSpecRef = Field(alias="flowSpec")
    source_connection_ids: list[str] = Field(alias="sourceConnectionIds", min_length=1, max_length=1)
    target_connection_ids: list[str] = Field(alias="targetConnectionIds", min_length=1, max_length=1)
    transformations: list[dict[str, Any]] | None = None


def read(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or the Flow Service error naming the first wrong field."""
    if body is None or body == {} or body == []:
        raise EmptyBody()
    if model is FlowCreate and isinstance(body, dict) and "state" in body:
        raise catalogue("FLOW-1410", "state", "read_only", "State is not allowed in the create flow request.")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise _first_problem(error) from None


def _first_problem(error: ValidationError) -> FlowInvalid:
    problem = error.errors()[0]
    field = ".".join(str(part) for part in problem["loc"]) or "body"
    kind = str(problem["type"])
    if kind == "missing":
        message = "field required"
    elif kind == "extra_forbidden":
        message = "unknown field (not allowed here)"
    else:
        message = str(problem["msg"])
    invalid = FlowInvalid(field, kind, message)
    if field.endswith("Spec.version") and kind == "missing":
        # destinations.yaml: a spec reference without its version is a 422.
        invalid.status = 422
    return invalid


# Contracts read by the runs sub-package ------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A selector's export schedule (UTC)."""

    frequency: str
    start_date: date
    end_date: date | None
    start_time: time | None
    trigger_type: str | None


@dataclass(frozen=True)
class Selector:
    """One audience of a dataflow, as stored (validated) in its transformations."""

    segment_id: str
    name: str
    filename_template: str
    export_mode: str
    schedule: Schedule
    added_at: datetime


@dataclass(frozen=True)
class Target:
    """Where a flow's files go: destination kind, credentials in clear, and every non-secret parameter."""

    kind: Literal["local", "sftp", "s3"]
    auth: dict[str, Any]
    params: dict[str, Any]
    destination_name: str


@dataclass(frozen=True)
class ExportShape:
    """What a flow's files hold and how they are written.

    ``mandatory`` (attributes or namespaces a profile must have to be exported) and ``primary``
    (deduplication keys) are extras beyond the brief's four fields; ``csv_options`` has every option
    filled with Adobe's defaults.
    """

    attributes: list[str]
    identities: list[str]
    file_type: str
    compression: str
    csv_options: dict[str, Any]
    mandatory: list[str] = field(default_factory=list)
    primary: list[str] = field(default_factory=list)
