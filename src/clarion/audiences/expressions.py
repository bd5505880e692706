"""A segment definition's ``expression`` object ↔ the PQL compiler (``audiences/pql``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from clarion.audiences.errors import InvalidPql
from clarion.audiences.pql import Expression, PqlError, parse_json, parse_text, to_sql

__all__ = ["Expression", "compile_condition", "parse", "stored_form"]


def stored_form(format_: str, value: str | dict[str, Any]) -> dict[str, Any]:
    """The expression as stored and shown: ``value`` is always a string (a pql/json object is serialized)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return {"type": "PQL", "format": format_, "value": text}


def parse(expression: dict[str, Any]) -> Expression:
    """Parse and type-check a stored-form expression; a 400 naming the position and token when invalid."""
    format_, value = expression.get("format"), expression.get("value")
    if not isinstance(value, str):
        raise InvalidPql("expression.value: a PQL expression must be a string", context={"field": "value"})
    try:
        if format_ == "pql/json":
            return parse_json(_json_document(value))
        return parse_text(value)
    except PqlError as error:
        raise InvalidPql(
            f"expression.value: invalid PQL: {error}",
            context={"field": "expression.value", "position": error.position, "token": error.token},
        ) from None


def compile_condition(
    expression: Expression, *, attributes: Any, dialect: str, now: datetime
) -> ColumnElement[bool]:
    """The SQL condition a profile's ``attributes`` must meet to belong to the audience."""
    condition: ColumnElement[bool] = to_sql(expression, attributes=attributes, dialect=dialect, now=now)
    return condition


def _json_document(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise InvalidPql(
            f"expression.value: pql/json is not valid JSON: {error.msg} at position {error.pos}",
            context={
                "field": "expression.value",
                "position": error.pos,
                "token": value[error.pos : error.pos + 1],
            },
        ) from None
