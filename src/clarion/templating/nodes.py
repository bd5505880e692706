"""The syntax tree the parser builds and the compiler turns into Python.

Variables are resolved while parsing: a ``Var`` already knows which scope (root, loop item, block
parameter) it reads from, so the compiler only maps scope ids to Python locals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

ROOT_SCOPE = 0
"""Scope id of the variables passed to ``render``; blocks that change ``this`` get ids from 1."""

DataName = Literal["index", "key", "first", "last"]
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
Scalar: TypeAlias = str | float | bool | None


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the template source."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Var:
    """A variable read: ``keys`` looked up from a scope, or a loop datum such as ``@index``.

    ``scopes`` holds one scope id, except for a bare path inside a block that changed ``this``: then it
    lists every enclosing scope, innermost first, and the first one holding the path's head wins
    (Handlebars "compat" lookup). ``refs`` are the absolute paths this read may reach, for ``references``.
    """

    source: str
    position: Position
    scopes: tuple[int, ...]
    keys: tuple[str, ...] = ()
    data: DataName | None = None
    refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Const:
    """A literal in a ``{%#if%}`` condition."""

    value: Scalar


@dataclass(frozen=True, slots=True)
class Not:
    """Negated truthiness."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` of two conditions."""

    op: Literal["and", "or"]
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison: numeric when both sides look like numbers, else on the rendered strings."""

    op: CompareOp
    left: Expr
    right: Expr


Expr: TypeAlias = Var | Const | Not | BoolOp | Compare


@dataclass(frozen=True, slots=True)
class Text:
    """Literal template text."""

    value: str


@dataclass(frozen=True, slots=True)
class Output:
    """``{{path}}`` (escaped when the template autoescapes) or ``{{{path}}}`` (raw)."""

    var: Var
    raw: bool


@dataclass(frozen=True, slots=True)
class Branch:
    """One ``if`` / ``else if`` arm."""

    condition: Expr
    body: Body


@dataclass(frozen=True, slots=True)
class If:
    """``{{#if}}``, ``{{#unless}}`` and ``{%#if%}`` chains; the first true branch renders."""

    branches: tuple[Branch, ...]
    otherwise: Body


@dataclass(frozen=True, slots=True)
class Each:
    """``{{#each}}`` over a list or a mapping; ``otherwise`` renders when there is nothing to iterate."""

    var: Var
    scope: int
    body: Body
    otherwise: Body
    data_used: frozenset[DataName]


@dataclass(frozen=True, slots=True)
class With:
    """``{{#with}}``: the body sees the value as ``this``; ``otherwise`` renders when it is falsy."""

    var: Var
    scope: int
    body: Body
    otherwise: Body


Node: TypeAlias = Text | Output | If | Each | With
Body: TypeAlias = tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """A variable path the template reads, at the position of its first use."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path} at line {self.line}, column {self.column}"
