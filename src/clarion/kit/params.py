"""Bounded query and path parameters: every route takes its offsets, pages, limits, ids and filters from here.

An unbounded parameter reaches the database as it came: ``offset=9223372036854775808`` overflowed
SQLite's 64-bit integers (a 500), and a NUL character is refused by PostgreSQL's text type. Each type
below states its range, so FastAPI answers a 400 in the route's envelope naming the parameter and the rule
(``api/errors.py``) before any service runs, and the OpenAPI document shows the bounds.

The numeric bounds fit a signed 32-bit integer, the ``int32`` of Adobe's documents and of most generated
clients: offsets up to ``MAX_OFFSET``, page numbers small enough that ``page * page size`` is an offset too.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query

MAX_OFFSET = 2**31 - 1
"""The largest number of items a list can skip (int32)."""

MAX_PAGE_SIZE = 1000
"""The largest page any route serves (Adobe's segment definitions and campaign read API)."""

MAX_PAGE = MAX_OFFSET // MAX_PAGE_SIZE
"""The largest page number: any page of any size starts at an offset ≤ ``MAX_OFFSET``."""

MAX_ID_LENGTH = 256
"""Path ids: Clarion's are UUIDs (36 characters); names, identities and foreign ids get room, not more."""

MAX_TEXT_LENGTH = 1024
"""Free-text query parameters: filters, sort orders, names."""

_CONTROL_CHARACTERS = r"\x00-\x1f\x7f"
CONTROL = re.compile(f"[{_CONTROL_CHARACTERS}]")
"""A control character: PostgreSQL refuses NUL in text, and no id, name, identity or filter holds one."""
_PRINTABLE = f"^[^{_CONTROL_CHARACTERS}]*$"


def offset_query(description: str = "Items to skip", *, alias: str | None = None) -> Any:
    """A ``Query`` for an offset: 0 to ``MAX_OFFSET``."""
    return Query(ge=0, le=MAX_OFFSET, alias=alias, description=f"{description} (0 to {MAX_OFFSET})")


def page_query(description: str = "Page number, from 0") -> Any:
    """A ``Query`` for a page number: 0 to ``MAX_PAGE``."""
    return Query(ge=0, le=MAX_PAGE, description=f"{description} (0 to {MAX_PAGE})")


def limit_query(maximum: int, description: str = "Items per page", *, alias: str | None = None) -> Any:
    """A ``Query`` for a page size: 1 to ``maximum`` (the route's contract; at most ``MAX_PAGE_SIZE``)."""
    assert 1 <= maximum <= MAX_PAGE_SIZE
    return Query(ge=1, le=maximum, alias=alias, description=f"{description} (1 to {maximum})")


def text_query(description: str | None = None, *, alias: str | None = None) -> Any:
    """A ``Query`` for free text: at most ``MAX_TEXT_LENGTH`` characters, no control characters."""
    return Query(max_length=MAX_TEXT_LENGTH, pattern=_PRINTABLE, alias=alias, description=description)


def id_path(description: str | None = None) -> Any:
    """A ``Path`` id: 1 to ``MAX_ID_LENGTH`` characters, no control characters."""
    return Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=_PRINTABLE, description=description)


Offset = Annotated[int, offset_query()]
"""``offset``: items to skip."""

Start = Annotated[int | None, offset_query("Offset of the first item")]
"""``start``: Adobe's name for an offset (absent: from the page number, or 0)."""

PageNumber = Annotated[int, page_query()]
"""``page``: a page number, from 0."""

Text = Annotated[str | None, text_query()]
"""An optional free-text filter."""

Id = Annotated[str, id_path()]
"""A path id."""


def nul_path(document: object, path: str = "") -> str | None:
    """The path of the first key or string holding a NUL character in a JSON document, or None.

    PostgreSQL stores neither text nor ``jsonb`` with ``\\u0000``; free-form documents (profile attributes,
    export job requests) are checked with this before they are written, on every backend alike.
    """
    if isinstance(document, str):
        return path or "." if "\x00" in document else None
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = nul_path(value, where)
            if found is not None:
                return found
    if isinstance(document, list):
        for index, item in enumerate(document):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
