"""JSON Patch (RFC 6902) as Flow Service takes it: ``add``, ``remove``, ``replace`` and ``test``.

Flow Service refuses ``move`` and ``copy`` (catalogue code 1434), and so do we. Operation names are
matched without regard to case (flow-service.yaml spells them ``ADD``/``REPLACE``/``REMOVE``,
destinations.yaml in lower case). A patch applies to a copy, all operations or none.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from clarion.activation.errors import FlowInvalid, catalogue, invalid

SUPPORTED = ("add", "remove", "replace", "test")
APPEND = "-"
"""The array index of RFC 6902 that means "after the last element"."""


def apply(document: dict[str, Any], operations: Any, *, writable: Collection[str]) -> dict[str, Any]:
    """``document`` after ``operations``; only paths under the top-level keys ``writable`` may change."""
    if not isinstance(operations, list) or not operations:
        raise invalid("body", "json_patch", "must be a non-empty JSON Patch array of operations")
    result: Any = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        result = _apply_one(result, operation, index, writable)
    if not isinstance(result, dict):
        raise invalid("body", "json_patch", "the patched document must remain a JSON object")
    return result


def _apply_one(document: Any, operation: Any, index: int, writable: Collection[str]) -> Any:
    if not isinstance(operation, dict):
        raise invalid(f"[{index}]", "json_patch", "each operation must be a JSON object")
    name = operation.get("op")
    if not isinstance(name, str):
        raise invalid(f"[{index}].op", "required", "field required (one of add, remove, replace, test)")
    op = name.lower()
    if op not in SUPPORTED:
        raise catalogue(
            "FLOW-1434",
            f"[{index}].op",
            "unsupported_operation",
            f"Unsupported operation '{name}' received. "
            "Please use one of the supported operation types and try again.",
        )
    path = operation.get("path")
    if not isinstance(path, str):
        raise invalid(f"[{index}].path", "required", "field required (a JSON Pointer such as /name)")
    tokens = _pointer(path, index)
    if not tokens or tokens[0] not in writable:
        allowed = ", ".join(f"/{key}" for key in sorted(writable))
        raise invalid(f"[{index}].path", "read_only", f"{path!r} cannot be updated (writable: {allowed})")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise invalid(f"[{index}].value", "required", f"field required for op {op!r}")
    value = copy.deepcopy(operation.get("value"))
    if op == "test":
        if not _same(_get(document, tokens, path), value):
            raise invalid(f"[{index}]", "test_failed", f"test failed: the value at {path!r} differs")
        return document
    parent = _get(document, tokens[:-1], path)
    _change(parent, tokens[-1], op, value, path)
    return document


def _pointer(path: str, index: int) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise invalid(
            f"[{index}].path", "json_pointer", f"{path!r} is not a JSON Pointer (it must start with /)"
        )
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _get(document: Any, tokens: list[str], path: str) -> Any:
    current = document
    for token in tokens:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and (position := _index(token, len(current))) is not None:
            current = current[position]
        else:
            raise _missing(path, token)
    return current


def _change(parent: Any, key: str, op: str, value: Any, path: str) -> None:
    if isinstance(parent, dict):
        if op != "add" and key not in parent:
            raise _missing(path, key)
        if op == "remove":
            del parent[key]
        else:
            parent[key] = value
        return
    if not isinstance(parent, list):
        raise _missing(path, key)
    if op == "add":
        position = len(parent) if key == APPEND else _index(key, len(parent) + 1)
        if position is None:
            raise _missing(path, key)
        parent.insert(position, value)
        return
    position = _index(key, len(parent))
    if position is None:
        raise _missing(path, key)
    if op == "remove":
        del parent[position]
    else:
        parent[position] = value


def _index(token: str, size: int) -> int | None:
    """A list index in ``range(size)`` (no sign, no leading zero), or None."""
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        return None
    position = int(token)
    return position if position < size else None


def _missing(path: str, token: str) -> FlowInvalid:
    return catalogue(
        "FLOW-1455",
        "path",
        "missing_target",
        "An error has occurred while validating patch instructions: "
        f'Missing field "{token}" (path {path!r}).',
    )


def _same(left: Any, right: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python's ``==`` says it is)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right) and isinstance(left, (int, float)) == isinstance(right, (int, float))
