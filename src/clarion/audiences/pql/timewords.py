"""Relative time: resolve ``Moment`` nodes against ``now`` and turn ``occurs`` into plain comparisons.

Every time is UTC and millisecond-precise (SQLite's own precision). Periods: ``today`` is [00:00, next 00:00),
``this month`` is [the 1st, the 1st of next month), weeks start on Monday, ``date(y, m, d)`` is its day;
``now`` is an instant. Calendar steps (months and longer) keep the day of month, clamped to the month's end.

``X occurs …`` means (``A`` = the period's start for ``before``, its end for ``after``/``from``; for ``now``
both are now and "before now" includes now):

* ``[on] P``: P.start <= X < P.end (``now``: X = now)
* ``between P and Q``: P.start <= X < Q.end (Q = now: X <= now)
* ``before P``: X < P.start;  ``after P``: X >= P.end (now: X > now);  ``from P``: X >= P.start
* ``<= n U before P``: A - n*U <= X < A (<= now);  ``< n``: A - n*U < X < A;  ``>= n``: X <= A - n*U;
  ``> n``: X < A - n*U;  ``= n``: A - n*U <= X < A - (n-1)*U (``= 1 day before today`` is yesterday);
  ``!= n``: X before A and not ``= n``
* ``after``/``from`` mirror it: ``<= n U after P``: A <= X <= A + n*U, ``= n``: A + (n-1)*U <= X < A + n*U
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clarion.audiences.pql.nodes import AllOf, Compare, Condition, Moment, Not, Value, ValueType

_FIXED_UNITS = {
    "millisecond": timedelta(milliseconds=1),
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_MONTHS_PER_UNIT = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """A span of time [start, end); an instant (``now``) has start = end."""

    start: Moment
    end: Moment
    instant: bool = False


def now_period() -> Period:
    """The instant ``now``."""
    return Period(Moment("now"), Moment("now"), instant=True)


def unit_period(unit: str, offset: int) -> Period:
    """The period of ``unit`` containing now, moved by ``offset`` periods (``last month``: -1)."""
    return Period(Moment(unit, offset), Moment(unit, offset + 1))


def day_period(day: datetime) -> Period:
    """The UTC day starting at ``day``."""
    start = Moment("fixed", fixed=day)
    return Period(start, start.shifted(1, "day"))


def resolve(moment: Moment, now: datetime) -> datetime:
    """The UTC datetime ``moment`` denotes when the current time is ``now``, clamped to years 1 to 9999."""
    current = truncate_ms(now)
    if moment.anchor == "now":
        point = current
    elif moment.anchor == "fixed":
        assert moment.fixed is not None
        point = moment.fixed
    else:
        point = add(start_of(current, moment.anchor), moment.offset, moment.anchor)
    for amount, unit in moment.shifts:
        point = add(point, amount, unit)
    return point


def truncate_ms(moment: datetime) -> datetime:
    """``moment`` in UTC with its microseconds cut to milliseconds."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def add(moment: datetime, amount: int, unit: str) -> datetime:
    """``moment`` plus ``amount`` units, clamped to the representable range."""
    if unit in _FIXED_UNITS:
        try:
            return moment + amount * _FIXED_UNITS[unit]
        except OverflowError:
            return LATEST if amount > 0 else EARLIEST
    months = moment.year * 12 + moment.month - 1 + amount * _MONTHS_PER_UNIT[unit]
    year, month = divmod(months, 12)
    if year < 1:
        return EARLIEST
    if year > 9999:
        return LATEST
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def start_of(moment: datetime, unit: str) -> datetime:
    """The start of the ``unit`` period containing ``moment`` (weeks start on Monday)."""
    if unit == "millisecond":
        return moment
    if unit == "second":
        return moment.replace(microsecond=0)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return midnight
    if unit == "week":
        return midnight - timedelta(days=midnight.weekday())
    if unit == "month":
        return midnight.replace(day=1)
    span = {"year": 1, "decade": 10, "century": 100, "millennium": 1000}[unit]
    return midnight.replace(year=max(1, moment.year // span * span), month=1, day=1)


def occurs_on(operand: Value, period: Period) -> Condition:
    """``operand occurs [on] period``."""
    if period.instant:
        return _cmp("=", operand, period.start)
    return AllOf((_cmp(">=", operand, period.start), _cmp("<", operand, period.end)))


def occurs_between(operand: Value, first: Period, last: Period) -> Condition:
    """``operand occurs between first and last`` (both periods included)."""
    return AllOf((_cmp(">=", operand, first.start), _cmp("<=" if last.instant else "<", operand, last.end)))


def occurs_direction(operand: Value, direction: str, period: Period) -> Condition:
    """``operand occurs before|after|from period``."""
    if direction == "before":
        return _cmp("<", operand, period.start)
    if direction == "from":
        return _cmp(">=", operand, period.start)
    return _cmp(">" if period.instant else ">=", operand, period.end)


def occurs_count(
    operand: Value, comparison: str, amount: int, unit: str, direction: str, period: Period
) -> Condition:
    """``operand occurs <comparison> <amount> <unit> before|after|from period``."""
    if direction == "before":
        return _count_before(operand, comparison, amount, unit, period)
    return _count_after(operand, comparison, amount, unit, period)


def _count_before(operand: Value, comparison: str, amount: int, unit: str, period: Period) -> Condition:
    anchor = period.start
    bound = anchor.shifted(-amount, unit)
    not_after_anchor = _cmp("<=" if period.instant else "<", operand, anchor)
    within = {
        "<=": AllOf((_cmp(">=", operand, bound), not_after_anchor)),
        "<": AllOf((_cmp(">", operand, bound), not_after_anchor)),
        ">=": _cmp("<=", operand, bound),
        ">": _cmp("<", operand, bound),
    }
    if comparison in within:
        return within[comparison]
    exactly = AllOf((_cmp(">=", operand, bound), _cmp("<", operand, anchor.shifted(-amount + 1, unit))))
    return exactly if comparison == "=" else AllOf((not_after_anchor, Not(exactly)))


def _count_after(operand: Value, comparison: str, amount: int, unit: str, period: Period) -> Condition:
    anchor = period.end
    bound = anchor.shifted(amount, unit)
    not_before_anchor = _cmp(">=", operand, anchor)
    within = {
        "<=": AllOf((not_before_anchor, _cmp("<=", operand, bound))),
        "<": AllOf((not_before_anchor, _cmp("<", operand, bound))),
        ">=": _cmp(">=", operand, bound),
        ">": _cmp(">", operand, bound),
    }
    if comparison in within:
        return within[comparison]
    exactly = AllOf((_cmp(">=", operand, anchor.shifted(amount - 1, unit)), _cmp("<", operand, bound)))
    return exactly if comparison == "=" else AllOf((not_before_anchor, Not(exactly)))


def _cmp(operator: str, operand: Value, moment: Moment) -> Condition:
    return Compare(operator, operand, moment, ValueType.TIMESTAMP)
