"""A segment definition's ``expression`` object ↔ the PQL compiler (``audiences/pql``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from clarion.audiences.errors import InvalidPql
from clarion.audiences.pql import Expression, PqlError, parse_json, parse_text, referenced_paths, to_sql

__all__ = [
    "Expression",
    "Problem",
    "compile_condition",
    "diagnose",
    "parse",
    "referenced_paths",
    "stored_form",
]


def stored_form(format_: str, value: str | dict[str, Any]) -> dict[str, Any]:
    """The expression as stored and shown: ``value`` is always a string (a pql/json object is serialized)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return {"type": "PQL", "format": format_, "value": text}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an expression is invalid and where: 0-based ``position``, 1-based ``line`` and ``column``."""

    message: str
    kind: str
    token: str
    position: int
    line: int
    column: int

    @classmethod
    def at(cls, text: str, position: int, *, message: str, kind: str, token: str) -> Problem:
        """The problem at ``position`` of ``text``, with its line and column counted."""
        position = max(0, min(position, len(text)))
        line_start = text.rfind("\n", 0, position) + 1
        return cls(
            message, kind, token, position, text.count("\n", 0, position) + 1, position - line_start + 1
        )


def parse(expression: dict[str, Any]) -> Expression:
    """Parse and type-check a stored-form expression; a 400 naming the position and token when invalid."""
    parsed = diagnose(expression)
    if isinstance(parsed, Problem):
        raise InvalidPql(
            f"expression.value: invalid PQL at line {parsed.line}, column {parsed.column}: {parsed.message}",
            context={
                "field": "expression.value",
                "position": parsed.position,
                "line": parsed.line,
                "column": parsed.column,
                "token": parsed.token,
            },
        )
    return parsed


def diagnose(expression: dict[str, Any]) -> Expression | Problem:
    """The checked expression, or the first problem found in it (a value, never an exception)."""
    format_, value = expression.get("format"), expression.get("value")
    if not isinstance(value, str):
        raise InvalidPql("expression.value: a PQL expression must be a string", context={"field": "value"})
    try:
        if format_ == "pql/json":
            document = json.loads(value)
            return parse_json(document)
        return parse_text(value)
    except json.JSONDecodeError as error:
        token = value[error.pos : error.pos + 1]
        message = f"pql/json is not valid JSON: {error.msg} at position {error.pos}"
        return Problem.at(value, error.pos, message=message, kind="Invalid JSON", token=token)
    except PqlError as error:
        return Problem.at(value, error.position, message=str(error), kind=error.kind, token=error.token)


def compile_condition(
    expression: Expression, *, attributes: Any, dialect: str, now: datetime
) -> ColumnElement[bool]:
    """The SQL condition a profile's ``attributes`` must meet to belong to the audience."""
    condition: ColumnElement[bool] = to_sql(expression, attributes=attributes, dialect=dialect, now=now)
    return condition
