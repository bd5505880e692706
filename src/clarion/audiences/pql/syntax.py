"""The untyped syntax tree both readers (``pql/text`` and ``pql/json``) produce; the checker types it.

Every node keeps the position and the token it came from, so a type error can name them. Operators and
functions alike are ``Apply`` nodes named as in PQL (``"="``, ``"and"``, ``"startsWith"``); a method call
``x.f(a)`` is ``Apply("f", (x, a))``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Syntax:
    """Base of syntax nodes: where the node starts and the token that names it."""

    position: int
    token: str


@dataclass(frozen=True, slots=True)
class Constant(Syntax):
    """A string, number or boolean literal."""

    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class ListOf(Syntax):
    """An array literal ``[a, b, …]``."""

    items: tuple[Syntax, ...]


@dataclass(frozen=True, slots=True)
class Field(Syntax):
    """An attribute path of the profile (``person.name.firstName`` → ``("person", "name", "firstName")``)."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Apply(Syntax):
    """An operator or function applied to arguments (a method's receiver is the first argument)."""

    name: str
    args: tuple[Syntax, ...]


@dataclass(frozen=True, slots=True)
class TimeWord(Syntax):
    """A time reference: ``now``, ``today``, ``yesterday``, ``tomorrow``, ``this|last|next <unit>``."""

    word: str
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Occurs(Syntax):
    """``X occurs …`` in one of its forms.

    ``form`` is ``on`` (``occurs [on] T``), ``between`` (``occurs between T1 and T2``), ``direction``
    (``occurs before|after|from T``) or ``count`` (``occurs <= 3 days before T``).
    """

    operand: Syntax
    form: str
    times: tuple[Syntax, ...]
    direction: str = ""
    comparison: str = ""
    amount: int = 0
    unit: str = ""
