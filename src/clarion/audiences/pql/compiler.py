"""Compile a checked expression into one SQLAlchemy boolean expression that runs in the database.

Three-valued logic, decided once: a comparison on a missing field, a JSON ``null`` or a value of another
type is *unknown*. ``not`` of unknown is unknown, ``false and unknown`` is false, ``true or unknown`` is true,
and a profile is a member only when the whole expression is *true*. So ``not (person.age > 30)`` does not
match a profile without an age, ``doesNotStartWith`` and ``notIn`` do not match a missing value, and
``isNull()`` / ``not exists`` (which are never unknown) do.

The compiler builds, for every condition, SQL that is TRUE exactly when the condition is true and SQL that is
TRUE exactly when it is false (``_truth(want=…)``); ``not`` swaps them. Either may yield FALSE or NULL
otherwise, which never matters: SQL ``NOT`` is applied only to SQL that is NULL exactly when the condition is
unknown. Typed reads are NULL when unknown, so ``age > 30`` and its opposite ``age <= 30`` are both not true
on a missing age, on both dialects alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, false, not_, null, or_, true
from sqlalchemy.sql import operators

from clarion.audiences.pql import timewords
from clarion.audiences.pql.dialects import JsonSql, Sql, for_dialect
from clarion.audiences.pql.nodes import (
    AllOf,
    AnyOf,
    Arithmetic,
    Branch,
    Choice,
    Compare,
    Condition,
    DatePart,
    Exists,
    Literal,
    Member,
    Moment,
    Negate,
    Not,
    Path,
    TextTest,
    Truth,
    Value,
    ValueType,
    type_of,
)

_OPERATORS = {
    "=": operators.eq,
    "!=": operators.ne,
    "<": operators.lt,
    "<=": operators.le,
    ">": operators.gt,
    ">=": operators.ge,
}
_OPPOSITES = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
# A comparison of two fields holds when both hold the same kind of scalar (no order on booleans).
_DYNAMIC_KINDS = (ValueType.NUMBER, ValueType.STRING, ValueType.BOOLEAN)


def compile_expression(
    expression: Condition, *, attributes: SQLColumnExpression[Any], dialect: str, now: datetime
) -> ColumnElement[bool]:
    """SQL that is TRUE exactly for the profiles ``expression`` selects (FALSE or NULL for the others)."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return _Compiler(for_dialect(dialect, attributes), now)._true(expression)


class _Compiler:
    def __init__(self, sql: JsonSql, now: datetime) -> None:
        self._sql = sql
        self._now = now

    # -- conditions ---------------------------------------------------------------------------------

    def _true(self, condition: Condition) -> Sql:
        return self._truth(condition, want=True)

    def _truth(self, condition: Condition, *, want: bool) -> Sql:
        """SQL that is TRUE exactly when ``condition`` is ``want``."""
        if isinstance(condition, Truth):
            return true() if condition.value == want else false()
        if isinstance(condition, Not):
            return self._truth(condition.operand, want=not want)
        if isinstance(condition, AllOf) and (window := self._time_window(condition)) is not None:
            return window if want else not_(window)  # NULL exactly when the timestamp is unknown
        if isinstance(condition, AllOf | AnyOf):
            parts = [self._truth(operand, want=want) for operand in condition.operands]
            return and_(*parts) if isinstance(condition, AllOf) == want else or_(*parts)
        if isinstance(condition, Compare):
            return self._compare(condition, want=want)
        if isinstance(condition, Member):
            return self._member(condition, want=want)
        if isinstance(condition, Exists):
            present = self._exists(condition.operand)
            return present if want else not_(present)  # never NULL, so NOT is safe here
        if isinstance(condition, TextTest):
            test = self._text_test(condition)
            return test if want else not_(test)  # NULL exactly when unknown, so NOT keeps it unknown
        assert isinstance(condition, Branch)
        test = self._true(condition.test)
        chosen = (self._truth(condition.then, want=want), self._truth(condition.otherwise, want=want))
        return case((test, chosen[0]), else_=chosen[1])

    def _compare(self, compare: Compare, *, want: bool) -> Sql:
        operator = compare.operator if want else _OPPOSITES[compare.operator]
        if operator == "=" and (fast := self._fast_equality(compare.left, compare.right)) is not None:
            return fast
        if compare.domain is ValueType.ANY:
            kinds = [
                kind for kind in _DYNAMIC_KINDS if operator in ("=", "!=") or kind is not ValueType.BOOLEAN
            ]
            return or_(*(self._typed_compare(operator, compare.left, compare.right, kind) for kind in kinds))
        return self._typed_compare(operator, compare.left, compare.right, compare.domain)

    def _typed_compare(self, operator: str, left: Value, right: Value, kind: ValueType) -> Sql:
        left_sql, right_sql = self.value(left, kind), self.value(right, kind)
        if kind is ValueType.STRING and operator not in ("=", "!="):
            left_sql, right_sql = self._sql.by_code_point(left_sql), self._sql.by_code_point(right_sql)
        result: Sql = _OPERATORS[operator](left_sql, right_sql)
        return result

    def _time_window(self, condition: AllOf) -> Sql | None:
        """``t >= a and t < b`` (what ``occurs`` makes) tested with one evaluation of ``t``, else None."""
        if len(condition.operands) != 2:
            return None
        low, high = condition.operands
        if not (_is_time_bound(low) and _is_time_bound(high)):
            return None
        assert isinstance(low, Compare)
        assert isinstance(high, Compare)
        if low.operator in ("<", "<="):
            low, high = high, low
        if low.left != high.left or low.operator not in (">", ">=") or high.operator not in ("<", "<="):
            return None
        assert isinstance(low.right, Moment)
        assert isinstance(high.right, Moment)
        return self._sql.within(
            self.value(low.left, ValueType.TIMESTAMP),
            (timewords.resolve(low.right, self._now), low.operator == ">="),
            (timewords.resolve(high.right, self._now), high.operator == "<="),
        )

    def _fast_equality(self, left: Value, right: Value) -> Sql | None:
        if isinstance(right, Path) and isinstance(left, Literal):
            left, right = right, left
        if isinstance(left, Path) and isinstance(right, Literal):
            return self._sql.equals_fast(left.keys, right.value)
        return None

    def _member(self, member: Member, *, want: bool) -> Sql:
        if not member.items:
            return false() if want else self._exists(member.operand)
        if (
            want
            and all(isinstance(item, Literal) for item in member.items)
            and isinstance(member.operand, Path)
        ):
            fast = [self._fast_equality(member.operand, item) for item in member.items]
            parts = [part for part in fast if part is not None]
            if len(parts) == len(fast):
                return or_(*parts)
        operand = self.value(member.operand, member.domain)
        items = [self.value(item, member.domain) for item in member.items]
        return operand.in_(items) if want else operand.not_in(items)

    def _exists(self, value: Value) -> Sql:
        if isinstance(value, Path):
            return self._sql.exists(value.keys)
        kinds = _DYNAMIC_KINDS if type_of(value) is ValueType.ANY else (type_of(value),)
        return or_(*(self.value(value, kind).is_not(None) for kind in kinds))

    def _text_test(self, test: TextTest) -> Sql:
        subject = self.value(test.operand, ValueType.STRING)
        if test.function in ("like", "matches"):
            assert isinstance(test.pattern, Literal)
            assert isinstance(test.pattern.value, str)
            return self._sql.pattern(test.function, subject, test.pattern.value)
        pattern = self.value(test.pattern, ValueType.STRING)
        if not test.case_sensitive:
            subject, pattern = self._sql.fold_case(subject), self._sql.fold_case(pattern)
        if test.function == "equals":
            return subject == pattern
        return self._sql.text(test.function, subject, pattern)

    # -- values -------------------------------------------------------------------------------------

    def value(self, value: Value, kind: ValueType) -> Sql:
        """``value`` read as ``kind``: NULL where it is missing or of another type."""
        if isinstance(value, Path):
            return self._sql.read(value.keys, kind)
        if isinstance(value, Choice):
            return case(
                (self._true(value.test), self.value(value.then, kind)),
                else_=self.value(value.otherwise, kind),
            )
        if type_of(value) is not kind:
            return null()
        if isinstance(value, Literal):
            return self._sql.constant(value.value, kind)
        if isinstance(value, Moment):
            return self._sql.constant(timewords.resolve(value, self._now), kind)
        if isinstance(value, Arithmetic):
            left, right = self.value(value.left, kind), self.value(value.right, kind)
            return self._sql.number(value.operator, left, right)
        if isinstance(value, Negate):
            return self._sql.number("negate", self.value(value.operand, kind), None)
        assert isinstance(value, DatePart)
        return self._date_part(value)

    def _date_part(self, part: DatePart) -> Sql:
        if isinstance(part.operand, Moment):
            moment = timewords.resolve(part.operand, self._now)
            number = {"year": moment.year, "month": moment.month, "day": moment.day}[part.part]
            return self._sql.constant(number, ValueType.NUMBER)
        return self._sql.date_part(part.part, self.value(part.operand, ValueType.TIMESTAMP))


def _is_time_bound(condition: Condition) -> bool:
    return (
        isinstance(condition, Compare)
        and condition.domain is ValueType.TIMESTAMP
        and isinstance(condition.right, Moment)
        and condition.operator not in ("=", "!=")
    )
