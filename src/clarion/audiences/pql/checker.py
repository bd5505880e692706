"""Type-check a syntax tree into the typed expression tree, with PQL's typing rules.

* A field has no static type: compared with a literal it is read as the literal's type
  (``person.age > 30`` reads a number, ``person.zip = "02134"`` a string, ``x > date(2024, 1, 1)`` a
  timestamp); two fields compare when the data holds the same kind of scalar on both sides.
* Arithmetic needs numbers; string functions need strings; case flags are boolean literals; ``like`` and
  ``matches`` take a string literal pattern (a regex is compiled here, so a bad one fails at parse time).
* A field used as a condition (``person.isActive``) means ``= true``.
* Functions PQL has but Clarion does not evaluate (aggregations, arrays of events) are "not supported".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from clarion.audiences.pql import timewords
from clarion.audiences.pql.errors import PqlError, type_error, unexpected, unsupported
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
from clarion.audiences.pql.syntax import Apply, Constant, Field, ListOf, Occurs, Syntax, TimeWord

MAX_DEPTH = 48
_ORDERINGS = frozenset({"<", "<=", ">", ">="})
_COMPARISONS = frozenset({"=", "!="}) | _ORDERINGS
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
# PQL name → (test, negated)
_STRING_TESTS = {
    "startsWith": ("startsWith", False),
    "doesNotStartWith": ("startsWith", True),
    "endsWith": ("endsWith", False),
    "doesNotEndWith": ("endsWith", True),
    "contains": ("contains", False),
    "doesNotContain": ("contains", True),
    "equals": ("equals", False),
    "notEqualTo": ("equals", True),
    "matches": ("matches", False),
}
_DATE_PARTS = {"getYear": "year", "getMonth": "month", "getDayOfMonth": "day"}
_CURRENT_PARTS = {"currentYear": "year", "currentMonth": "month", "currentDayOfMonth": "day"}
_UNSUPPORTED = frozenset(
    {
        "count", "sum", "avg", "average", "min", "max", "distinct", "intersects", "includes", "notIncludes",
        "subsetOf", "supersetOf", "topN", "bottomN", "head", "regexGroup", "upperBound", "lowerBound",
        "inSegment", "chain", "size", "first", "containsKey", "select", "exists", "forall", "occurs",
    }
)  # fmt: skip
_ALIASES = {"==": "=", "<>": "!="}
_PERIOD_OFFSETS = {"today": 0, "yesterday": -1, "tomorrow": 1, "this": 0, "last": -1, "next": 1}

Checked = Value | Condition


def _check_storable(node: Syntax, value: str | int | float | bool) -> None:
    """Refuse what a database cannot hold: non-finite numbers, NUL or lone surrogates in strings."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise type_error(node.token, node.position, "a string must be valid Unicode") from None
        if "\x00" in value:
            raise type_error(node.token, node.position, "a string cannot contain the NUL character")
        return
    if isinstance(value, bool):
        return
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite or abs(value) > 1e300:
        raise type_error(node.token, node.position, "the number is out of range")


def check(node: Syntax) -> Condition:
    """Type-check a whole segment expression: its root must be a condition."""
    return _Checker().condition(node)


class _Checker:
    def __init__(self) -> None:
        self._depth = 0
        self._functions: dict[str, Callable[[Apply], Checked]] = {
            "and": self._all,
            "or": self._any,
            "not": self._not,
            "in": self._in,
            "notIn": self._in,
            "like": self._like,
            "isNull": self._null_test,
            "isNotNull": self._null_test,
            "negate": self._negate,
            "date": self._date,
            "if": self._if,
        }

    # -- entry points -------------------------------------------------------------------------------

    def condition(self, node: Syntax) -> Condition:
        """``node`` as a condition (a boolean field or literal becomes ``= true`` / a constant)."""
        checked = self._check(node)
        if isinstance(checked, Condition):
            return checked
        if isinstance(checked, Literal) and isinstance(checked.value, bool):
            return Truth(checked.value)
        if type_of(checked) in (ValueType.ANY, ValueType.BOOLEAN):
            return Compare("=", checked, Literal(True), ValueType.BOOLEAN)
        raise type_error(node.token, node.position, f"expected a condition, found a {type_of(checked).value}")

    def value(self, node: Syntax) -> Value:
        """``node`` as a value; a condition here is a type error."""
        checked = self._check(node)
        if isinstance(checked, Condition):
            raise type_error(node.token, node.position, "expected a value, found a condition")
        return checked

    def _check(self, node: Syntax) -> Checked:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise PqlError(
                    f"the expression is nested more than {MAX_DEPTH} levels deep",
                    position=node.position,
                    token=node.token,
                    kind="Too deep",
                )
            return self._dispatch(node)
        finally:
            self._depth -= 1

    def _dispatch(self, node: Syntax) -> Checked:
        if isinstance(node, Constant):
            _check_storable(node, node.value)
            return Literal(node.value)
        if isinstance(node, Field):
            if not node.keys:
                raise unexpected(node.token, node.position, "a field of the profile")
            for key in node.keys:
                _check_storable(node, key)
            return Path(node.keys)
        if isinstance(node, TimeWord):
            return self._period(node).start
        if isinstance(node, Occurs):
            return self._occurs(node)
        if isinstance(node, ListOf):
            raise type_error(node.token, node.position, "a list is only allowed after in or notIn")
        assert isinstance(node, Apply)
        return self._apply(node)

    def _apply(self, node: Apply) -> Checked:
        if node.name in _ALIASES:  # pql/json spells operators as written in the text
            node = Apply(node.position, node.token, _ALIASES[node.name], node.args)
        name = node.name
        if name in self._functions:
            return self._functions[name](node)
        if name in _COMPARISONS:
            return self._compare(node)
        if name in _ARITHMETIC:
            return self._arithmetic(node)
        if name in _STRING_TESTS:
            return self._string_test(node)
        if name in _DATE_PARTS:
            self._arity(node, 1, 1, "takes no arguments")
            return DatePart(_DATE_PARTS[name], self._timestamp(node.args[0]))
        if name in _CURRENT_PARTS:
            self._arity(node, 0, 0, "takes no arguments")
            return DatePart(_CURRENT_PARTS[name], Moment("now"))
        if name in _UNSUPPORTED:
            raise unsupported(node.token, node.position, f"the function {name}")
        raise PqlError(
            "not a PQL function Clarion knows",
            position=node.position,
            token=node.token,
            kind="Unknown function",
        )

    # -- logic --------------------------------------------------------------------------------------

    def _all(self, node: Apply) -> Checked:
        self._arity(node, 2, None, "needs two operands")
        return AllOf(self._flat(AllOf, [self.condition(arg) for arg in node.args]))

    def _any(self, node: Apply) -> Checked:
        self._arity(node, 2, None, "needs two operands")
        return AnyOf(self._flat(AnyOf, [self.condition(arg) for arg in node.args]))

    @staticmethod
    def _flat(kind: type[AllOf] | type[AnyOf], operands: list[Condition]) -> tuple[Condition, ...]:
        flat: list[Condition] = []
        for operand in operands:
            flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
        return tuple(flat)

    def _not(self, node: Apply) -> Checked:
        self._arity(node, 1, 1, "takes one operand")
        return Not(self.condition(node.args[0]))

    def _if(self, node: Apply) -> Checked:
        self._arity(node, 3, 3, "takes a test, a value if true and a value if false")
        test = self.condition(node.args[0])
        then, otherwise = self._check(node.args[1]), self._check(node.args[2])
        if isinstance(then, Condition) or isinstance(otherwise, Condition):
            return Branch(test, self.condition(node.args[1]), self.condition(node.args[2]))
        kind = self._unify(node, type_of(then), type_of(otherwise))
        return Choice(test, then, otherwise, kind)

    # -- comparisons --------------------------------------------------------------------------------

    def _compare(self, node: Apply) -> Checked:
        self._arity(node, 2, 2, "compares two values")
        left, right = self.value(node.args[0]), self.value(node.args[1])
        domain = self._unify(node, type_of(left), type_of(right))
        if domain is ValueType.BOOLEAN and node.name in _ORDERINGS:
            raise type_error(node.token, node.position, "booleans have no order: use = or !=")
        return Compare(node.name, left, right, domain)

    def _in(self, node: Apply) -> Checked:
        self._arity(node, 2, 2, "takes a value and a list")
        operand, listed = self.value(node.args[0]), node.args[1]
        if not isinstance(listed, ListOf):
            raise type_error(listed.token, listed.position, f"{node.name} needs a list literal [ … ]")
        items: list[Value] = []
        domain = type_of(operand)
        for item_syntax in listed.items:
            item = self.value(item_syntax)
            if not isinstance(item, Literal | Moment):
                raise type_error(item_syntax.token, item_syntax.position, "list items must be literals")
            domain = self._unify(item_syntax, domain, type_of(item))
            items.append(item)
        member = Member(operand, tuple(items), domain)
        return Not(member) if node.name == "notIn" else member

    def _unify(self, node: Syntax, left: ValueType, right: ValueType) -> ValueType:
        if left is ValueType.ANY or left is right:
            return right
        if right is ValueType.ANY:
            return left
        raise type_error(node.token, node.position, f"cannot compare a {left.value} with a {right.value}")

    # -- strings ------------------------------------------------------------------------------------

    def _string_test(self, node: Apply) -> Checked:
        test, negated = _STRING_TESTS[node.name]
        self._arity(node, 2, 3, "takes a string and an optional case-sensitivity flag")
        operand = self._string(node.args[0])
        pattern_syntax = node.args[1]
        pattern = self._string(pattern_syntax)
        if test == "matches":
            pattern = self._regex(pattern_syntax)
        case_sensitive = True
        if len(node.args) == 3:
            flag = node.args[2]
            if not (isinstance(flag, Constant) and isinstance(flag.value, bool)):
                raise type_error(flag.token, flag.position, "the case-sensitivity flag must be true or false")
            case_sensitive = flag.value
        result = TextTest(test, operand, pattern, case_sensitive)
        return Not(result) if negated else result

    def _like(self, node: Apply) -> Checked:
        self._arity(node, 2, 2, "takes a string and a pattern")
        pattern = node.args[1]
        if not (isinstance(pattern, Constant) and isinstance(pattern.value, str)):
            raise type_error(pattern.token, pattern.position, "like needs a string literal pattern")
        return TextTest("like", self._string(node.args[0]), Literal(pattern.value))

    def _string(self, node: Syntax) -> Value:
        value = self.value(node)
        if type_of(value) not in (ValueType.ANY, ValueType.STRING):
            raise type_error(node.token, node.position, f"expected a string, found a {type_of(value).value}")
        return value

    @staticmethod
    def _regex(node: Syntax) -> Value:
        if not (isinstance(node, Constant) and isinstance(node.value, str)):
            raise type_error(node.token, node.position, "matches needs a string literal regular expression")
        try:
            re.compile(node.value)
        except re.error as error:
            raise type_error(node.token, node.position, f"invalid regular expression: {error}") from None
        return Literal(node.value)

    def _null_test(self, node: Apply) -> Checked:
        self._arity(node, 1, 1, "takes no arguments")
        exists = Exists(self.value(node.args[0]))
        return exists if node.name == "isNotNull" else Not(exists)

    # -- numbers ------------------------------------------------------------------------------------

    def _arithmetic(self, node: Apply) -> Checked:
        self._arity(node, 2, 2, "takes two numbers")
        left, right = self.value(node.args[0]), self.value(node.args[1])
        found = (type_of(left), type_of(right))
        if any(kind not in (ValueType.ANY, ValueType.NUMBER) for kind in found):
            raise type_error(
                node.token,
                node.position,
                f"{node.name} needs numbers, found a {found[0].value} and a {found[1].value}",
            )
        return Arithmetic(node.name, left, right)

    def _negate(self, node: Apply) -> Checked:
        self._arity(node, 1, 1, "takes one number")
        operand = self.value(node.args[0])
        if type_of(operand) not in (ValueType.ANY, ValueType.NUMBER):
            raise type_error(node.token, node.position, f"cannot negate a {type_of(operand).value}")
        return Negate(operand)

    # -- time ---------------------------------------------------------------------------------------

    def _date(self, node: Apply) -> Checked:
        return self._date_period(node).start

    def _date_period(self, node: Apply) -> timewords.Period:
        self._arity(node, 3, 3, "takes a year, a month and a day: date(2024, 5, 31)")
        parts: list[int] = []
        ranges = (("year", 1, 9999), ("month", 1, 12), ("day", 1, 31))
        for arg, (name, low, high) in zip(node.args, ranges, strict=True):
            if not (isinstance(arg, Constant) and type(arg.value) is int and low <= arg.value <= high):
                raise type_error(
                    arg.token, arg.position, f"the {name} must be a whole number from {low} to {high}"
                )
            parts.append(arg.value)
        try:
            day = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        except ValueError:
            arg = node.args[2]
            raise type_error(
                arg.token, arg.position, f"month {parts[1]} of {parts[0]} has no day {parts[2]}"
            ) from None
        return timewords.day_period(day)

    def _timestamp(self, node: Syntax) -> Value:
        value = self.value(node)
        if type_of(value) not in (ValueType.ANY, ValueType.TIMESTAMP):
            raise type_error(
                node.token, node.position, f"expected a timestamp, found a {type_of(value).value}"
            )
        return value

    def _period(self, node: Syntax) -> timewords.Period:
        if isinstance(node, Apply) and node.name == "date":
            return self._date_period(node)
        if isinstance(node, TimeWord) and node.word == "now":
            return timewords.now_period()
        if isinstance(node, TimeWord):
            return timewords.unit_period(node.unit or "day", _PERIOD_OFFSETS[node.word])
        raise unexpected(node.token, node.position, "a time")

    def _occurs(self, node: Occurs) -> Checked:
        operand = self._timestamp(node.operand)
        periods = [self._period(time) for time in node.times]
        if node.form == "on":
            return timewords.occurs_on(operand, periods[0])
        if node.form == "between":
            return timewords.occurs_between(operand, periods[0], periods[1])
        if node.form == "direction":
            return timewords.occurs_direction(operand, node.direction, periods[0])
        return timewords.occurs_count(
            operand, node.comparison, node.amount, node.unit, node.direction, periods[0]
        )

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _arity(node: Apply, minimum: int, maximum: int | None, rule: str) -> None:
        count = len(node.args)
        if count < minimum or (maximum is not None and count > maximum):
            raise type_error(node.token, node.position, f"{node.name} {rule}")
