"""PQL (Adobe's Profile Query Language) → SQL that runs in the database, never row by row in Python.

Usage::

    expression = parse_text('person.age >= 18 and homeAddress.country in ["US", "CA"]')   # or parse_json(doc)
    where = to_sql(expression, attributes=Profile.attributes, dialect=uow.dialect.name, now=clock.now())
    select(Profile.id).where(Profile.org_id == org, Profile.sandbox_id == sandbox, where)

Paths address the profile's ``attributes`` document (``person.name.firstName``, ``$1.person.age``,
``(Profile) => Profile.person.age``; a key that is not an identifier goes between backticks). The semantics
(three-valued logic, typing, relative time) are documented in ``compiler``, ``checker`` and ``timewords``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression

from clarion.audiences.pql.checker import check
from clarion.audiences.pql.compiler import compile_expression
from clarion.audiences.pql.errors import PqlError
from clarion.audiences.pql.jsonform import read_json
from clarion.audiences.pql.nodes import Expression, paths_of
from clarion.audiences.pql.parser import parse_syntax

__all__ = ["Expression", "PqlError", "parse_json", "parse_text", "referenced_paths", "to_sql"]


def parse_text(text: str) -> Expression:
    """Parse and type-check ``pql/text``; raise ``PqlError`` (position, token) on any syntax or type error."""
    return check(parse_syntax(text))


def parse_json(document: Any) -> Expression:
    """Parse and type-check ``pql/json`` (the object or its JSON text); errors have position 0."""
    return check(read_json(document))


def to_sql(
    expression: Expression, *, attributes: SQLColumnExpression[Any], dialect: str, now: datetime
) -> ColumnElement[bool]:
    """A boolean SQL expression selecting the profiles ``expression`` matches.

    ``attributes`` is the JSON column (``Profile.attributes`` or an alias of it), ``dialect`` ``"sqlite"`` or
    ``"postgresql"``, ``now`` an aware datetime that relative times (``now``, ``today``, ``occurs …``) are
    resolved against — bound as parameters, so the SQL is deterministic. The result is TRUE for members and
    FALSE *or NULL* for the others: use it in a WHERE clause; to select non-members, compile ``not (…)`` in
    PQL rather than negating the SQL.
    """
    return compile_expression(expression, attributes=attributes, dialect=dialect, now=now)


def referenced_paths(expression: Expression) -> list[tuple[str, ...]]:
    """The attribute paths ``expression`` reads, in order of first use, without repeats."""
    return paths_of(expression)
