"""Limit/offset pagination shared by the /v1 list endpoints."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")
MAX_OFFSET = 2**63 - 1
"""The largest offset a database takes (64-bit); past it the driver fails (a 500), so it is a 400."""


class PageParams(BaseModel):
    """Query parameters of a list endpoint."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> PageParams:
    """FastAPI dependency reading ``limit`` and ``offset``."""
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total count."""

    items: list[T]
    total: int
    limit: int
    offset: int
