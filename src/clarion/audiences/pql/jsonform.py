"""Read ``pql/json`` (Adobe's JSON form of the PQL tree) into the same syntax tree as ``pql/text``.

Nodes: ``fnApply {fnName, params}``, ``fieldLookup {fieldName, object}``, ``parameterReference {position}``
and ``literal {literalType, value}`` (a list value is an array literal). Function names are PQL's own
(``"="``, ``"and"``, ``"startsWith"``, ``"in"`` …; a method's receiver is its first parameter). Errors carry
position 0 and the offending node's name as the token.
"""

from __future__ import annotations

import json
from typing import Any

from clarion.audiences.pql.checker import MAX_DEPTH
from clarion.audiences.pql.errors import PqlError, unsupported
from clarion.audiences.pql.syntax import Apply, Constant, Field, ListOf, Syntax, TimeWord

_TIME_LITERALS = frozenset({"now", "today", "yesterday", "tomorrow"})


def read_json(document: Any) -> Syntax:
    """The syntax tree of a ``pql/json`` document (a parsed object or its JSON text)."""
    if isinstance(document, str | bytes):
        document = _decode(document)
    return _Reader().node(document)


def _decode(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        shown = error.doc[error.pos : error.pos + 1] if isinstance(error.doc, str) else ""
        raise PqlError(
            f"not JSON ({error.msg})", position=error.pos, token=shown, kind="Invalid JSON"
        ) from None
    except (RecursionError, UnicodeDecodeError, ValueError):
        raise PqlError("not a readable JSON document", position=0, token="", kind="Invalid JSON") from None


def _bad(token: str, message: str) -> PqlError:
    return PqlError(message, position=0, token=token, kind="Invalid pql/json node")


class _Reader:
    def __init__(self) -> None:
        self._depth = 0

    def node(self, raw: Any) -> Syntax:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise PqlError("nested too deeply", position=0, token="", kind="Too deep")
            if not isinstance(raw, dict):
                raise _bad(type(raw).__name__, "expected an object with a nodeType")
            return self._typed(raw)
        finally:
            self._depth -= 1

    def _typed(self, raw: dict[str, Any]) -> Syntax:
        kind = raw.get("nodeType")
        if kind == "fnApply":
            return self._apply(raw)
        if kind == "fieldLookup":
            return self._field(raw)
        if kind == "literal":
            return self._literal(raw)
        if kind == "parameterReference":
            self._parameter(raw)
            raise _bad("parameterReference", "a parameter is only used as the object of a fieldLookup")
        if kind in ("variableReference", "lambda", "select"):
            raise unsupported(str(kind), 0, "a variable, lambda or event selection in pql/json")
        raise _bad(str(kind), "unknown nodeType (fnApply, fieldLookup, parameterReference, literal)")

    def _apply(self, raw: dict[str, Any]) -> Syntax:
        name, params = raw.get("fnName"), raw.get("params", [])
        if not isinstance(name, str) or not name:
            raise _bad("fnApply", "fnName must be a non-empty string")
        if not isinstance(params, list):
            raise _bad(name, "params must be a list")
        if name in _TIME_LITERALS and not params:
            return TimeWord(0, name, name)
        return Apply(0, name, name, tuple(self.node(param) for param in params))

    def _field(self, raw: dict[str, Any]) -> Syntax:
        keys: list[str] = []
        current: Any = raw
        while isinstance(current, dict) and current.get("nodeType") == "fieldLookup":
            name = current.get("fieldName")
            if not isinstance(name, str):
                raise _bad("fieldLookup", "fieldName must be a string")
            keys.append(name)
            current = current.get("object")
        if not (isinstance(current, dict) and current.get("nodeType") == "parameterReference"):
            raise _bad("fieldLookup", "a fieldLookup's object must be a fieldLookup or parameterReference")
        self._parameter(current)
        return Field(0, ".".join(reversed(keys)), tuple(reversed(keys)))

    @staticmethod
    def _parameter(raw: dict[str, Any]) -> None:
        if raw.get("position", 1) != 1:
            raise unsupported("parameterReference", 0, "a parameter other than the profile (position 1)")

    def _literal(self, raw: dict[str, Any]) -> Syntax:
        value = raw.get("value")
        if isinstance(value, list):
            return ListOf(0, "literal", tuple(self._literal({"value": item}) for item in value))
        if isinstance(value, str | bool | int | float):
            return Constant(0, json.dumps(value), value)
        raise _bad("literal", "a literal value must be a string, number, boolean or list of them")
