"""Limit/offset pagination shared by the /v1 list endpoints (bounds from ``kit/params.py``)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

from clarion.kit.params import MAX_OFFSET, Offset, limit_query

T = TypeVar("T")
MAX_LIMIT = 500
"""The largest page of a /v1 list."""


class PageParams(BaseModel):
    """Query parameters of a list endpoint."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


def page_params(limit: Annotated[int, limit_query(MAX_LIMIT)] = 50, offset: Offset = 0) -> PageParams:
    """FastAPI dependency reading ``limit`` and ``offset``."""
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total count."""

    items: list[T]
    total: int
    limit: int
    offset: int
