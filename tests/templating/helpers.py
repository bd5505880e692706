"""Shared helpers for the templating tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clarion.templating import compile_template


def render(source: str, variables: Mapping[str, Any] | None = None, *, autoescape: bool = True) -> str:
    """Compile and render in one go."""
    return compile_template(source, autoescape=autoescape).render(variables or {})
