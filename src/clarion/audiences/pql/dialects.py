"""How each database reads the profile's JSON document: the only dialect-specific SQL of the PQL compiler.

Both dialects answer the same questions the same way: a typed read of a path is NULL when the path is
missing or holds another JSON type (so comparisons on ill-typed data are unknown, never an error); strings
compare by code point; case-insensitive tests fold ASCII letters only (SQLite's ``lower``); a timestamp is an
ISO-8601 string ``YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM]`` read as UTC when it has no offset.

Every key and every literal is a bound parameter.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Numeric,
    SQLColumnExpression,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE

from clarion.audiences.pql.nodes import ValueType

_SIMPLE_KEY_CHARS = frozenset(chr(code) for code in range(0x20, 0x7F)) - {'"', "\\"}
_ISO_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"
_NOT_CLOCK_GLOB = "*[^0-9:.Z+-]*"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MILLISECOND = timedelta(milliseconds=1)
_INDEX_LIKE = re.compile(r"-?[0-9]+")
_PART_FORMATS = {"year": "%Y", "month": "%m", "day": "%d"}

Sql = ColumnElement[Any]


class JsonSql(Protocol):
    """The SQL building blocks a dialect provides to the compiler."""

    def read(self, keys: tuple[str, ...], kind: ValueType) -> Sql:
        """The value at ``keys`` read as ``kind``; NULL when missing or of another JSON type."""

    def exists(self, keys: tuple[str, ...]) -> Sql:
        """Whether ``keys`` holds a value other than JSON null (never NULL itself)."""

    def equals_fast(self, keys: tuple[str, ...], value: str | int | float | bool) -> Sql | None:
        """An index-friendly "the value at ``keys`` equals ``value``", or None to compare typed reads."""

    def constant(self, value: str | int | float | bool | datetime, kind: ValueType) -> Sql:
        """A literal as a bound parameter of ``kind``."""

    def text(self, function: str, subject: Sql, pattern: Sql) -> Sql:
        """``startsWith``, ``endsWith`` or ``contains``."""

    def fold_case(self, subject: Sql) -> Sql:
        """``subject`` with ASCII letters in lower case (the same on both dialects)."""

    def by_code_point(self, subject: Sql) -> Sql:
        """``subject`` ordered by code point, whatever the database's collation."""

    def pattern(self, function: str, subject: Sql, pattern: str) -> Sql:
        """``like`` (``%``, ``_``) or ``matches`` (a regular expression) against a literal pattern."""

    def number(self, operator: str, left: Sql, right: Sql | None) -> Sql:
        """Arithmetic ``+ - * / %`` (and ``negate``, ``right`` None); x/0 and x%0 are NULL."""

    def date_part(self, part: str, timestamp: Sql) -> Sql:
        """The UTC year, month or day of month of a timestamp read."""

    def within(self, timestamp: Sql, low: tuple[datetime, bool], high: tuple[datetime, bool]) -> Sql | None:
        """Whether a timestamp read lies between (bound, inclusive) pairs, reading it once; None: cannot."""


def for_dialect(dialect: str, attributes: SQLColumnExpression[Any]) -> JsonSql:
    """The building blocks of ``dialect`` (sqlite, postgresql) over the JSON column ``attributes``."""
    if dialect == "sqlite":
        return SqliteJson(attributes)
    if dialect == "postgresql":
        return PostgresJson(attributes)
    raise ValueError(f"unsupported dialect {dialect!r}: use 'sqlite' or 'postgresql'")


def like_to_glob(pattern: str) -> str:
    """A PQL ``like`` pattern (``%`` any run, ``_`` one character) as a case-sensitive SQLite GLOB."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(char, char) for char in pattern)


def like_to_postgres(pattern: str) -> str:
    """A PQL ``like`` pattern for PostgreSQL ``LIKE`` (its escape character, backslash, made literal)."""
    return pattern.replace("\\", "\\\\")


class SqliteJson:
    """SQLite JSON1: ``json_type``/``json_extract`` on simple keys, ``json_each`` on any other key."""

    def __init__(self, attributes: SQLColumnExpression[Any]) -> None:
        self._doc: Sql = type_coerce(attributes, JSON)

    def _node(self, keys: tuple[str, ...]) -> tuple[Sql, Sql]:
        """(JSON type name, SQL value) at ``keys``; both NULL when the path is missing."""
        simple = 0
        while simple < len(keys) and _is_simple(keys[simple]):
            simple += 1
        if simple == len(keys):
            path = bindparam(None, _json_path(keys), type_=String)
            return func.json_type(self._doc, path), func.json_extract(self._doc, path)
        # json_extract's path syntax cannot name keys with quotes, backslashes or non-ASCII characters (SQLite
        # 3.40 compares them raw against the escaped JSON text); json_each decodes keys, so walk with it.
        parent: Sql = self._doc
        if simple:
            prefix = bindparam(None, _json_path(keys[:simple]), type_=String)
            parent = case(
                (func.json_type(self._doc, prefix) == "object", func.json_extract(self._doc, prefix))
            )
        for key in keys[simple:-1]:
            parent = _each_column(parent, key, "value", objects_only=True)
        return _each_column(parent, keys[-1], "type"), _each_column(parent, keys[-1], "value")

    def read(self, keys: tuple[str, ...], kind: ValueType) -> Sql:
        """See ``JsonSql.read``; booleans read as 1/0."""
        json_type, value = self._node(keys)
        if kind is ValueType.NUMBER:
            return case((json_type.in_(["integer", "real"]), value))
        if kind is ValueType.BOOLEAN:
            return case((json_type == "true", 1), (json_type == "false", 0))
        text = case((json_type == "text", value))
        if kind is ValueType.TIMESTAMP:
            return _sqlite_timestamp(text)
        return text

    def exists(self, keys: tuple[str, ...]) -> Sql:
        """See ``JsonSql.exists``."""
        return func.coalesce(self._node(keys)[0], "null") != "null"

    def equals_fast(self, keys: tuple[str, ...], value: str | int | float | bool) -> Sql | None:
        """SQLite cannot index a path given as a parameter: typed reads are as fast."""
        return None

    def constant(self, value: str | int | float | bool | datetime, kind: ValueType) -> Sql:
        """See ``JsonSql.constant``; timestamps become Julian days, booleans 1/0."""
        if isinstance(value, datetime):
            return func.julianday(bindparam(None, _sqlite_iso(value), type_=String))
        if isinstance(value, bool):
            return bindparam(None, int(value), type_=Integer)
        if isinstance(value, str):
            return bindparam(None, value, type_=String)
        if isinstance(value, int) and -(2**63) <= value < 2**63:
            return bindparam(None, value, type_=Integer)
        return bindparam(None, float(value), type_=Float)  # SQLite integers are 64-bit

    def text(self, function: str, subject: Sql, pattern: Sql) -> Sql:
        """See ``JsonSql.text``."""
        if function == "startsWith":
            return func.substr(subject, 1, func.length(pattern)) == pattern
        if function == "endsWith":
            # A start before the first character never yields a string as long as the pattern: no false match.
            return func.substr(subject, func.length(subject) - func.length(pattern) + 1) == pattern
        return func.instr(subject, pattern) > 0  # contains

    def fold_case(self, subject: Sql) -> Sql:
        """See ``JsonSql.fold_case``: SQLite's lower() folds ASCII only."""
        return func.lower(subject)

    def by_code_point(self, subject: Sql) -> Sql:
        """See ``JsonSql.by_code_point``: SQLite's default BINARY collation already does."""
        return subject

    def pattern(self, function: str, subject: Sql, pattern: str) -> Sql:
        """See ``JsonSql.pattern``: GLOB (case-sensitive, unlike LIKE) and engine.py's REGEXP function."""
        if function == "like":
            return subject.op("GLOB", is_comparison=True)(
                bindparam(None, like_to_glob(pattern), type_=String)
            )
        return subject.op("REGEXP", is_comparison=True)(bindparam(None, pattern, type_=String))

    def number(self, operator: str, left: Sql, right: Sql | None) -> Sql:
        """See ``JsonSql.number``; division is always real division."""
        if right is None:
            return -left
        if operator in ("+", "-", "*"):
            return left.op(operator)(right)
        quotient = left.op("*")(literal(1.0, Float)).op("/")(func.nullif(right, 0))
        if operator == "/":
            return quotient
        return left.op("-")(right.op("*")(cast(quotient, Integer)))

    def date_part(self, part: str, timestamp: Sql) -> Sql:
        """See ``JsonSql.date_part``."""
        return cast(func.strftime(_PART_FORMATS[part], timestamp), Integer)

    def within(self, timestamp: Sql, low: tuple[datetime, bool], high: tuple[datetime, bool]) -> Sql | None:
        """See ``JsonSql.within``: BETWEEN evaluates its operand once; julianday() values are whole ms."""
        start = low[0] if low[1] else low[0] + _MILLISECOND
        end = high[0] if high[1] else high[0] - _MILLISECOND
        return timestamp.between(
            self.constant(start, ValueType.TIMESTAMP), self.constant(end, ValueType.TIMESTAMP)
        )


class PostgresJson:
    """PostgreSQL ``jsonb``: ``#>`` reads guarded by ``jsonb_typeof``, ``@>`` for equality (GIN-indexable)."""

    def __init__(self, attributes: SQLColumnExpression[Any]) -> None:
        self._doc: Sql = type_coerce(attributes, JSONB)

    def _at(self, keys: tuple[str, ...]) -> Sql:
        value = self._doc.op("#>", return_type=JSONB)(_text_array(keys))
        # `#>` reads a key like "0" as an index when the parent is an array; SQLite (and PQL) never do.
        parents = [keys[:depth] for depth in range(1, len(keys)) if _INDEX_LIKE.fullmatch(keys[depth])]
        if not parents:
            return value
        objects = [
            func.jsonb_typeof(self._doc.op("#>", return_type=JSONB)(_text_array(p))) == "object"
            for p in parents
        ]
        return case((and_(*objects), value))

    def read(self, keys: tuple[str, ...], kind: ValueType) -> Sql:
        """See ``JsonSql.read``."""
        json_type = func.jsonb_typeof(self._at(keys))
        if kind is ValueType.NUMBER:
            return case((json_type == "number", cast(self._at(keys), Numeric)))
        if kind is ValueType.BOOLEAN:
            return case((json_type == "boolean", cast(self._at(keys), Boolean)))
        text = case((json_type == "string", self._at(keys).op("#>>", return_type=Text)(_text_array(()))))
        if kind is ValueType.TIMESTAMP:
            # Migration 0008: NULL for anything but the ISO forms SQLite's julianday() also reads.
            return func.clarion_try_timestamptz(text, type_=DateTime(timezone=True))
        return text

    def exists(self, keys: tuple[str, ...]) -> Sql:
        """See ``JsonSql.exists``."""
        return func.coalesce(func.jsonb_typeof(self._at(keys)), "null") != "null"

    def equals_fast(self, keys: tuple[str, ...], value: str | int | float | bool) -> Sql | None:
        """``attributes @> {"a": {"b": value}}``: exact for scalars (no array below the top holds one)."""
        document: Any = value
        for key in reversed(keys):
            document = {key: document}
        return self._doc.op("@>", is_comparison=True)(
            bindparam(None, json.dumps(document), type_=Text).cast(JSONB)
        )

    def constant(self, value: str | int | float | bool | datetime, kind: ValueType) -> Sql:
        """See ``JsonSql.constant``; numbers are exact ``numeric`` (0.1 stays 0.1)."""
        if isinstance(value, datetime):
            return bindparam(None, value, type_=DateTime(timezone=True))
        if isinstance(value, bool):
            return bindparam(None, value, type_=Boolean)
        if isinstance(value, str):
            return bindparam(None, value, type_=String)
        return bindparam(
            None, Decimal(repr(value)) if isinstance(value, float) else Decimal(value), type_=Numeric
        )

    def text(self, function: str, subject: Sql, pattern: Sql) -> Sql:
        """See ``JsonSql.text``."""
        if function == "startsWith":
            return func.left(subject, func.length(pattern)) == pattern
        if function == "endsWith":
            return func.right(subject, func.length(pattern)) == pattern
        return func.strpos(subject, pattern) > 0  # contains

    def fold_case(self, subject: Sql) -> Sql:
        """See ``JsonSql.fold_case``: translate(), as lower() would follow the locale."""
        return func.translate(subject, _UPPER, _UPPER.lower())

    def by_code_point(self, subject: Sql) -> Sql:
        """See ``JsonSql.by_code_point``."""
        return subject.collate("C")

    def pattern(self, function: str, subject: Sql, pattern: str) -> Sql:
        """See ``JsonSql.pattern``."""
        if function == "like":
            return subject.op("LIKE", is_comparison=True)(
                bindparam(None, like_to_postgres(pattern), type_=String)
            )
        # Migration 0008: NULL instead of an error when PostgreSQL's regex dialect rejects the pattern.
        return func.clarion_regex_match(subject, bindparam(None, pattern, type_=String), type_=Boolean)

    def number(self, operator: str, left: Sql, right: Sql | None) -> Sql:
        """See ``JsonSql.number``."""
        if right is None:
            return -left
        if operator in ("+", "-", "*"):
            return left.op(operator)(right)
        if operator == "/":
            return left.op("/")(func.nullif(right, 0))
        return func.mod(left, func.nullif(right, 0))

    def date_part(self, part: str, timestamp: Sql) -> Sql:
        """See ``JsonSql.date_part``."""
        return cast(extract(part, func.timezone("UTC", timestamp)), Integer)

    def within(self, timestamp: Sql, low: tuple[datetime, bool], high: tuple[datetime, bool]) -> Sql | None:
        """See ``JsonSql.within``: a ``tstzrange`` contains the timestamp (a reversed range would raise)."""
        if low[0] > high[0]:
            return None
        bounds = ("[" if low[1] else "(") + ("]" if high[1] else ")")
        window = func.tstzrange(
            self.constant(low[0], ValueType.TIMESTAMP),
            self.constant(high[0], ValueType.TIMESTAMP),
            bindparam(None, bounds, type_=Text),
            type_=TSTZRANGE,
        )
        return window.op("@>", is_comparison=True)(timestamp)


def _text_array(keys: tuple[str, ...]) -> Sql:
    return bindparam(None, list(keys), type_=ARRAY(Text))


def _is_simple(key: str) -> bool:
    return bool(key) and all(char in _SIMPLE_KEY_CHARS for char in key)


def _json_path(keys: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{key}"' for key in keys)


def _each_column(parent: Sql, key: str, column: str, *, objects_only: bool = False) -> Sql:
    """A column of the ``json_each(parent)`` row whose key is ``key`` (a correlated scalar subquery)."""
    rows = func.json_each(parent).table_valued("key", "value", "type")
    condition = rows.c.key == bindparam(None, key, type_=String)
    if objects_only:
        condition = and_(condition, rows.c.type == "object")
    return select(rows.c[column]).where(condition).correlate_except(rows).scalar_subquery()


def _sqlite_timestamp(text: Sql) -> Sql:
    """Julian day of an ISO-8601 string, NULL for anything else.

    julianday() alone also reads "now", "2024-02-30", "24:30", "10:00 +02:00", "10:00z": the guards keep
    exactly the grammar PostgreSQL's clarion_try_timestamptz (migration 0008) accepts.
    """
    day = func.substr(text, 1, 10)
    clock = func.substr(text, 12)
    well_formed = and_(
        text.op("GLOB", is_comparison=True)(bindparam(None, _ISO_DATE_GLOB, type_=String)),
        func.substr(text, 1, 4) != "0000",
        func.date(func.julianday(day)) == day,
        or_(
            func.length(text) == 10,
            and_(
                func.length(text) >= 16,  # at least "YYYY-MM-DDTHH:MM": julianday() accepts "2024-05-15 "
                func.substr(text, 11, 1).in_(["T", " "]),
                not_(clock.op("GLOB", is_comparison=True)(bindparam(None, _NOT_CLOCK_GLOB, type_=String))),
                func.substr(text, 12, 2) <= "23",
            ),
        ),
    )
    return case((well_formed, func.julianday(text)))


def _sqlite_iso(moment: datetime) -> str:
    # Not strftime: it drops the zero padding of years before 1000.
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} " + (
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}"
    )
