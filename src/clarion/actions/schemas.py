"""Wire shapes of custom actions (/v1/custom-actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

NAME_PATTERN = r"^[A-Za-z0-9_]+$"
"""Custom action names: letters, digits and ``_`` (contract §3.7), at most 30 of them."""
HEADER_NAME_PATTERN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
"""An HTTP field name (RFC 9110 ``token``)."""
CONTEXT_PATH_PATTERN = r"^[^.]+(\.[^.]+)*$"
"""A dotted path in the event context, e.g. ``order.customer.id``."""

Method = Literal["GET", "POST", "PUT"]


class WireModel(BaseModel):
    """camelCase on the wire, closed to unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ReadModel(BaseModel):
    """camelCase on the wire; built from ORM rows or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class QueryParameterIn(WireModel):
    """A query parameter: a constant ``value`` or a value read ``fromContext`` at call time."""

    name: str = Field(min_length=1, max_length=256)
    value: str | None = Field(default=None, max_length=2048)
    from_context: str | None = Field(default=None, max_length=512, pattern=CONTEXT_PATH_PATTERN)

    @model_validator(mode="after")
    def _one_source(self) -> QueryParameterIn:
        if (self.value is None) == (self.from_context is None):
            raise ValueError(f"query parameter {self.name!r}: give exactly one of value or fromContext")
        return self


class NoAuthentication(WireModel):
    """No authentication."""

    type: Literal["none"]


class BasicAuthentication(WireModel):
    """HTTP Basic. ``password`` is write-only; omit it on update to keep the stored one."""

    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=256)
    password: str | None = Field(default=None, min_length=1, max_length=1024)


class BearerAuthentication(WireModel):
    """``Authorization: Bearer <token>``. ``token`` is write-only; omit it on update to keep it."""

    type: Literal["bearer"]
    token: str | None = Field(default=None, min_length=1, max_length=8192)


class ApiKeyAuthentication(WireModel):
    """An API key sent in the header ``headerName``. ``apiKey`` is write-only; omit it on update to keep."""

    type: Literal["apiKey"]
    header_name: str = Field(min_length=1, max_length=256, pattern=HEADER_NAME_PATTERN)
    api_key: str | None = Field(default=None, min_length=1, max_length=8192)


Authentication = Annotated[
    NoAuthentication | BasicAuthentication | BearerAuthentication | ApiKeyAuthentication,
    Field(discriminator="type"),
]


class CustomActionWrite(WireModel):
    """Create or replace a custom action."""

    name: str = Field(min_length=1, max_length=30, pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=4000)
    url: str = Field(min_length=1, max_length=2048)
    method: Method
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    query_parameters: list[QueryParameterIn] = Field(default_factory=list, max_length=50)
    authentication: Authentication = Field(default_factory=lambda: NoAuthentication(type="none"))
    body: str | None = Field(default=None, min_length=1, max_length=256_000)
    timeout_seconds: float = Field(default=30.0, ge=1, le=30)


class CustomActionRead(ReadModel):
    """A custom action; secrets appear only as ``has…`` flags in ``authentication``."""

    id: str
    name: str
    description: str
    url: str
    method: str
    headers: dict[str, str]
    query_parameters: list[dict[str, str]]
    authentication: dict[str, object]
    body: str | None
    timeout_seconds: float
    version: int
    created_at: datetime
    updated_at: datetime
