"""Helpers the generated render functions call: text conversion, escaping, lookups, comparisons.

Lookups use item access only (``value[key]``), never attributes, so ``items``/``keys``/``values`` are data.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MISSING_ERRORS = (KeyError, IndexError, TypeError)
"""What a failed ``value[key]`` raises: no such key, no such index, or not a container of that kind."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_MAX_NUMBER_TEXT = 400  # longer digit strings compare as text (int() refuses huge ones anyway)


def to_text(value: Any) -> str:
    """Render a value like Handlebars: None → "", booleans lower-case, lists comma-joined, dicts as JSON."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is int or cls is float:
        return str(value)
    if isinstance(value, str):
        return str.__str__(value)  # a subclass may override replace/str; use the plain text
    if isinstance(value, list | tuple):
        return ",".join(map(to_text, value))
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str, skipkeys=True)
    return str(value)


def escape(value: Any) -> str:
    """``to_text`` then HTML-escape ``& < > " '``."""
    cls = value.__class__
    if cls is str:
        text: str = value
    elif cls is int or cls is float:
        return str(value)  # digits, sign, '.', 'e', 'inf', 'nan': nothing to escape
    else:
        text = to_text(value)
    # Most values hold none of the five characters: five `in` scans beat five replace calls.
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&#x27;")
        )
    return text


def json_escape(value: Any) -> str:
    """``to_text`` then escape for the inside of a JSON string: quotes, backslashes, control characters."""
    cls = value.__class__
    if cls is int or cls is float:
        return str(value)  # nothing to escape
    text: str = value if cls is str else to_text(value)
    return json.dumps(text, ensure_ascii=False)[1:-1]


def lookup(value: Any, keys: tuple[str, ...]) -> Any:
    """Follow ``keys`` from ``value``; a digit key also indexes a list. None when anything is missing."""
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isascii() and key.isdigit():
            index = int(key)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def lookup_first(keys: tuple[str, ...], scopes: tuple[Any, ...]) -> Any:
    """Handlebars compat lookup: the innermost scope that holds the path's first key wins."""
    head = keys[0]
    for scope in scopes:
        if isinstance(scope, Mapping) and head in scope:
            return lookup(scope, keys)
    return None


def loop_values(value: Any) -> Sequence[Any]:
    """What ``{{#each}}`` iterates when it does not need keys; empty for anything not iterable."""
    if isinstance(value, list | tuple):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return ()


def loop_pairs(value: Any) -> Sequence[tuple[Any, Any]]:
    """(key, value) pairs for ``{{#each}}``; a list's keys are its indexes, as in Handlebars."""
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    if isinstance(value, Mapping):
        return list(value.items())
    return ()


def _number(value: Any) -> int | float | None:
    cls = value.__class__
    if cls is int or cls is float:
        return value  # type: ignore[no-any-return]
    if cls is str and len(value) <= _MAX_NUMBER_TEXT and _NUMBER.fullmatch(value):
        # Integers stay exact so that long numeric ids compare correctly.
        return int(value) if _INTEGER.fullmatch(value) else float(value)
    return None


def _comparison(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return op(a, b)
        return op(to_text(left), to_text(right))

    return compare


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _comparison(operator.eq),
    "!=": _comparison(operator.ne),
    "<": _comparison(operator.lt),
    "<=": _comparison(operator.le),
    ">": _comparison(operator.gt),
    ">=": _comparison(operator.ge),
}
"""AJO comparisons: numeric when both sides look like numbers (context values arrive as strings)."""
