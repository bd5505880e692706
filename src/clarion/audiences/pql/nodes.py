"""The typed expression tree: what ``parse_text``/``parse_json`` return and ``to_sql`` compiles.

Two families: values (a field, a literal, arithmetic, a moment in time, …) and conditions (comparisons,
``and``/``or``/``not``, string tests, existence). The checker has already resolved each comparison's domain
(the type both sides are read as), so the compiler never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class ValueType(Enum):
    """The type a value is read as. ``ANY`` is a field whose type the data decides."""

    ANY = "any"
    BOOLEAN = "boolean"
    NUMBER = "number"
    STRING = "string"
    TIMESTAMP = "timestamp"


# -- values -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Value:
    """Base of value nodes."""


@dataclass(frozen=True, slots=True)
class Path(Value):
    """An attribute path in the profile's JSON document."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal(Value):
    """A string, number or boolean constant."""

    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class Moment(Value):
    """A point in time, resolved against ``now`` at compile time.

    ``anchor`` is ``now``, ``fixed`` (``fixed`` holds it) or a unit (``day``, ``month``…): the start of the
    unit's period containing now, moved by ``offset`` periods. ``shifts`` then add ``(amount, unit)`` steps.
    """

    anchor: str
    offset: int = 0
    fixed: datetime | None = None
    shifts: tuple[tuple[int, str], ...] = ()

    def shifted(self, amount: int, unit: str) -> Moment:
        """This moment moved by ``amount`` units."""
        return Moment(self.anchor, self.offset, self.fixed, (*self.shifts, (amount, unit)))


@dataclass(frozen=True, slots=True)
class Arithmetic(Value):
    """``left <operator> right`` with ``operator`` one of ``+ - * / %``."""

    operator: str
    left: Value
    right: Value


@dataclass(frozen=True, slots=True)
class Negate(Value):
    """``-operand``."""

    operand: Value


@dataclass(frozen=True, slots=True)
class DatePart(Value):
    """The UTC ``year``, ``month`` or ``day`` (of month) of a timestamp."""

    part: str
    operand: Value


@dataclass(frozen=True, slots=True)
class Choice(Value):
    """``if(test, then, otherwise)`` between two values; an unknown test takes ``otherwise``."""

    test: Condition
    then: Value
    otherwise: Value
    type: ValueType


# -- conditions ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """Base of condition nodes (PQL's boolean expressions)."""


@dataclass(frozen=True, slots=True)
class Truth(Condition):
    """The literal ``true`` or ``false`` used as a condition."""

    value: bool


@dataclass(frozen=True, slots=True)
class AllOf(Condition):
    """``a and b and …``."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf(Condition):
    """``a or b or …``."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not(Condition):
    """``not (operand)``: true where the operand is false; unknown stays unknown."""

    operand: Condition


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    """``left <operator> right`` with both sides read as ``domain`` (``ANY``: two fields of the same kind)."""

    operator: str
    left: Value
    right: Value
    domain: ValueType


@dataclass(frozen=True, slots=True)
class Member(Condition):
    """``operand in [items]`` with the items' type as ``domain``."""

    operand: Value
    items: tuple[Value, ...]
    domain: ValueType


@dataclass(frozen=True, slots=True)
class Exists(Condition):
    """``operand.isNotNull()``: present and not JSON ``null``. Never unknown."""

    operand: Value


@dataclass(frozen=True, slots=True)
class TextTest(Condition):
    """A string function: ``startsWith``, ``endsWith``, ``contains``, ``equals``, ``like`` or ``matches``."""

    function: str
    operand: Value
    pattern: Value
    case_sensitive: bool = True


@dataclass(frozen=True, slots=True)
class Branch(Condition):
    """``if(test, then, otherwise)`` between two conditions; an unknown test takes ``otherwise``."""

    test: Condition
    then: Condition
    otherwise: Condition


Expression = Condition
"""A checked PQL segment expression (its root is always a condition)."""


def type_of(value: Value) -> ValueType:
    """The static type of a value node."""
    if isinstance(value, Literal):
        if isinstance(value.value, bool):
            return ValueType.BOOLEAN
        return ValueType.STRING if isinstance(value.value, str) else ValueType.NUMBER
    if isinstance(value, Moment):
        return ValueType.TIMESTAMP
    if isinstance(value, Arithmetic | Negate | DatePart):
        return ValueType.NUMBER
    if isinstance(value, Choice):
        return value.type
    return ValueType.ANY


def paths_of(node: Value | Condition) -> list[tuple[str, ...]]:
    """Every attribute path under ``node``, in order of first appearance, without repeats."""
    found: dict[tuple[str, ...], None] = {}
    pending: list[object] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, Path):
            found.setdefault(current.keys)
        elif isinstance(current, tuple):
            pending.extend(reversed(current))
        elif isinstance(current, Value | Condition):
            pending.extend(reversed([getattr(current, name) for name in current.__dataclass_fields__]))
    return list(found)
