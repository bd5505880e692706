"""Relative time: moments resolved against now, and every ``occurs`` form run in the database.

``now`` is 2024-05-15T12:00:00Z, a Wednesday: this week is Monday 13 to Sunday 19 May.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clarion.audiences.pql import parse_text
from clarion.audiences.pql.nodes import Moment
from clarion.audiences.pql.timewords import EARLIEST, LATEST, add, resolve
from tests.audiences.pql.conftest import NOW, ProfileStore


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    """A UTC datetime."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


RESOLVED = [
    (Moment("now"), at(2024, 5, 15, 12)),
    (Moment("day", 0), at(2024, 5, 15)),
    (Moment("day", -1), at(2024, 5, 14)),
    (Moment("week", 0), at(2024, 5, 13)),
    (Moment("week", 1), at(2024, 5, 20)),
    (Moment("month", -1), at(2024, 4, 1)),
    (Moment("month", -5), at(2023, 12, 1)),
    (Moment("year", 1), at(2025, 1, 1)),
    (Moment("decade", 0), at(2020, 1, 1)),
    (Moment("hour", 0), at(2024, 5, 15, 12)),
    (Moment("now", shifts=((-30, "day"),)), at(2024, 4, 15, 12)),
    (Moment("now", shifts=((-90, "minute"),)), at(2024, 5, 15, 10, 30)),
    (Moment("fixed", fixed=at(2024, 1, 31), shifts=((1, "month"),)), at(2024, 2, 29)),
    (Moment("fixed", fixed=at(2024, 2, 29), shifts=((-1, "year"),)), at(2023, 2, 28)),
    (Moment("now", shifts=((-3000, "year"),)), EARLIEST),
    (Moment("now", shifts=((10**9, "day"),)), LATEST),
]


@pytest.mark.parametrize(("moment", "expected"), RESOLVED, ids=[str(i) for i in range(len(RESOLVED))])
def test_moments_resolve_against_now(moment: Moment, expected: datetime) -> None:
    assert resolve(moment, NOW) == expected


def test_now_is_cut_to_milliseconds_in_utc() -> None:
    now = datetime(2024, 5, 15, 14, 0, 0, 123456, tzinfo=UTC).astimezone()

    assert resolve(Moment("now"), now) == at(2024, 5, 15, 14, 0, 0, 123000)


def test_calendar_steps_clamp_to_the_end_of_the_month() -> None:
    assert add(at(2023, 3, 31), -1, "month") == at(2023, 2, 28)
    assert add(at(2024, 12, 31), 2, "month") == at(2025, 2, 28)
    assert add(at(2020, 2, 29), 1, "century") == at(2120, 2, 29)


TIMES = {
    "t-2d": "2024-05-13T12:00:00Z",
    "t-1d": "2024-05-14T12:00:00Z",
    "yesterday-start": "2024-05-14T00:00:00Z",
    "today-start": "2024-05-15T00:00:00Z",
    "now": "2024-05-15T12:00:00Z",
    "now+1h": "2024-05-15T13:00:00.000+00:00",
    "late-today": "2024-05-16T00:30:00+01:00",  # 23:30 UTC
    "plain-today": "2024-05-15 10:00",
    "far-east": "2024-05-16T06:00:00.5+14:00",  # 16:00:00.5 UTC on the 15th
    "tomorrow": "2024-05-16T08:00:00Z",
    "day-after": "2024-05-17T08:00:00Z",
    "next-week": "2024-05-22",
    "next-month": "2024-06-03",
    "last-year": "2023-12-31T23:59:59Z",
    # not the common ISO grammar: unknown on both dialects
    "hour-24": "2024-05-15T24:00:00",
    "no-colon-offset": "2024-05-15T10:00:00+0200",
    "lower-t": "2024-05-15t10:00:00",
    "date-with-zone": "2024-05-15Z",
    "year-zero": "0000-01-01",
    "trailing-space": "2024-05-15 ",
    "space-before-zone": "2024-05-15T10:00:00 +02:00",
    "leap-second": "2024-05-15T23:59:60",
    "zone-15": "2024-05-15T10:00:00+15:00",
    "february-30": "2024-02-30",
    "word-now": "now",
}
VALID_TODAY = {"today-start", "now", "now+1h", "late-today", "plain-today", "far-east"}
BEFORE_TODAY = {"t-2d", "t-1d", "yesterday-start"}
FROM_TOMORROW = {"tomorrow", "day-after", "next-week", "next-month"}
TODAY_BEFORE_NOON = {"today-start", "plain-today"}
TODAY_AFTER_NOON = {"now+1h", "late-today", "far-east"}

OCCURS = [
    ("t occurs today", VALID_TODAY),
    ("t occurs on date(2024, 5, 15)", VALID_TODAY),
    ("t occurs tomorrow", {"tomorrow"}),
    ("t occurs yesterday", {"t-1d", "yesterday-start"}),
    ("t occurs this week", {"t-2d", "t-1d", "yesterday-start", "tomorrow", "day-after"} | VALID_TODAY),
    ("t occurs next week", {"next-week"}),
    ("t occurs next month", {"next-month"}),
    ("t occurs last year", {"last-year"}),
    ("t occurs before today", {"t-2d", "t-1d", "yesterday-start", "last-year"}),
    ("t occurs before now", BEFORE_TODAY | TODAY_BEFORE_NOON | {"last-year"}),
    ("t occurs after now", TODAY_AFTER_NOON | FROM_TOMORROW),
    ("t occurs after today", {"tomorrow", "day-after", "next-week", "next-month"}),
    ("t occurs from today", {"tomorrow", "day-after", "next-week", "next-month"} | VALID_TODAY),
    ("t occurs between yesterday and today", {"t-1d", "yesterday-start"} | VALID_TODAY),
    ("t occurs between date(2024, 5, 13) and now", BEFORE_TODAY | TODAY_BEFORE_NOON | {"now"}),
    ("t occurs <= 1 day before now", {"t-1d", "today-start", "now", "plain-today"}),
    ("t occurs < 1 day before now", {"today-start", "now", "plain-today"}),
    ("t occurs >= 1 day before now", {"t-2d", "t-1d", "yesterday-start", "last-year"}),
    ("t occurs > 1 day before now", {"t-2d", "yesterday-start", "last-year"}),
    ("t occurs = 1 day before today", {"t-1d", "yesterday-start"}),
    ("t occurs != 1 day before today", {"t-2d", "last-year"}),
    ("t occurs <= 2 days before today", {"t-2d", "t-1d", "yesterday-start"}),
    ("t occurs < 2 days after today", {"tomorrow", "day-after"}),
    ("t occurs = 2 days after today", {"day-after"}),
    ("t occurs != 1 day after today", {"day-after", "next-week", "next-month"}),
    ("t occurs > 3 days after now", {"next-week", "next-month"}),
    ("t occurs >= 1 hour from now", TODAY_AFTER_NOON | FROM_TOMORROW),
    ("t occurs <= 12 hours after now", {"now", "now+1h", "late-today", "far-east"}),
    ("t occurs <= 6 months before now", BEFORE_TODAY | TODAY_BEFORE_NOON | {"now", "last-year"}),
    ("t.getDayOfMonth() = currentDayOfMonth()", VALID_TODAY),
    ("t > today and t < tomorrow", VALID_TODAY - {"today-start"}),
]


@pytest.mark.parametrize(("text", "expected"), OCCURS, ids=[text for text, _ in OCCURS])
async def test_occurs_forms_select_expected_times(store: ProfileStore, text: str, expected: set[str]) -> None:
    names = await store.insert({name: {"t": value} for name, value in TIMES.items()})

    found = await store.matching(parse_text(text), names)

    assert {names[profile_id] for profile_id in found} == expected
