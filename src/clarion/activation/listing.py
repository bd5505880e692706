"""Flow Service list parameters: ``property``, ``orderby``, ``limit``, ``count``, ``continuationToken``.

Semantics from Adobe's "Sorting and filtering responses in the Flow Service API": each ``property`` is
one ``path<op>value`` filter on any field of the entity's JSON (``[]`` after an array name looks
inside its items), filters combine with AND, a comma-separated value means "any of". Adobe's own
examples also write a second filter as a bare ``&metrics.statusSummary.status==success``, so a query
piece that is not a known parameter but holds an operator is read as a filter too. ``count=true``
answers ``{"count": n}`` only and cannot be combined with ``limit`` (catalogue code 1401).

Repositories push the filters they can onto SQL columns (``repository.py``); the rest are evaluated
here on the views. Shared at ``activation/`` level because two sub-packages answer lists with it:
``flowservice`` (specs, connections, flows) and ``runs`` (dataflow runs).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode

from fastapi import Depends, Query, Request

from clarion.activation.errors import FlowInvalid, catalogue
from clarion.kit.params import CONTROL, MAX_OFFSET, MAX_TEXT_LENGTH

MAX_LIMIT = 100
PARAMETERS = ("property", "orderby", "limit", "count", "continuationToken")
_FILTER = re.compile(r"^(?P<path>[A-Za-z0-9_.$@\[\]-]+?)(?P<op>==|!=|>=|<=|=|>|<)(?P<value>.*)$", re.DOTALL)
_EXISTS = re.compile(r"^(?P<not>!?)(?P<path>[A-Za-z0-9_.$@\[\]-]+)$")
_COMPARISONS = (">", "<", ">=", "<=")


@dataclass(frozen=True)
class Filter:
    """One ``property`` filter; ``op``: ``==`` ``!=`` ``>`` ``<`` ``>=`` ``<=`` ``exists`` ``absent``."""

    path: str
    op: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Order:
    """``orderby``: one field, ascending unless prefixed with ``-``."""

    field: str
    descending: bool


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request; ``items`` are the request's parameters, kept to build the next page's link."""

    filters: tuple[Filter, ...]
    order: Order | None
    limit: int
    offset: int
    count: bool
    items: tuple[tuple[str, str], ...]


def parse(raw_query: str) -> ListQuery:
    """Read a request's query string (kept raw: a bare ``a==b`` piece is a filter, not ``a = "=b"``)."""
    filters: list[Filter] = []
    known: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    for piece in (part for part in raw_query.split("&") if part):
        name, has_value, value = piece.partition("=")
        name = unquote_plus(name)
        _check_printable(name if name in PARAMETERS else "property", unquote_plus(piece))
        if has_value and name in PARAMETERS and not value.startswith("="):
            value = unquote_plus(value)
            if name == "property":
                filters.append(parse_filter(value))
            else:
                known[name] = value
            items.append((name, value))
            continue
        filters.append(_stray(unquote_plus(piece)))
        items.append(("property", unquote_plus(piece)))
    limit, count = _limit(known.get("limit")), _flag(known.get("count"))
    if count and "limit" in known:
        raise catalogue(
            "FLOW-1401",
            "limit",
            "limit_with_count",
            "The limit and count parameters cannot be given together in the same request. "
            "Please provide either only the limit or the count parameter and try again.",
        )
    return ListQuery(
        filters=tuple(filters),
        order=_order(known.get("orderby")),
        limit=limit,
        offset=_offset(known.get("continuationToken")),
        count=count,
        items=tuple((name, value) for name, value in items if name != "continuationToken"),
    )


def parse_filter(expression: str) -> Filter:
    """``path<op>value`` (value ``a,b`` = any of), or ``path`` / ``!path`` for presence."""
    found = _FILTER.match(expression)
    if found is None:
        exists = _EXISTS.match(expression)
        if exists is None:
            raise catalogue(
                "FLOW-1450",
                "property",
                "invalid_operator",
                f"Invalid operator in filter params: {expression!r}.",
            )
        return Filter(exists["path"], "absent" if exists["not"] else "exists")
    op = "==" if found["op"] == "=" else found["op"]
    raw = found["value"].strip()
    if not raw:
        raise catalogue(
            "FLOW-1453",
            "property",
            "empty_value",
            f"Invalid query value {expression} provided in query param.",
        )
    values = tuple(_unquote(value.strip()) for value in raw.split(","))
    if op in _COMPARISONS and len(values) > 1:
        raise catalogue(
            "FLOW-1443",
            "property",
            "multiple_values",
            f"Operator '{op}' is not allowed for multiple values.",
        )
    return Filter(found["path"], op, values)


def _stray(piece: str) -> Filter:
    if _FILTER.match(piece) is None:
        raise catalogue(
            "FLOW-1451",
            piece,
            "unknown_parameter",
            f"Invalid params {piece} provided in query params.",
        )
    return parse_filter(piece)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _check_printable(name: str, text: str) -> None:
    # Filter values reach SQL, and PostgreSQL's text type refuses NUL: no control characters anywhere.
    if len(text) > MAX_TEXT_LENGTH or CONTROL.search(text):
        raise FlowInvalid(
            name, "printable", f"at most {MAX_TEXT_LENGTH} characters, without control characters"
        )


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_LIMIT
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise FlowInvalid("limit", "range", f"must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def _flag(raw: str | None) -> bool:
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise FlowInvalid("count", "boolean", f"must be true or false, got {raw!r}")


def _order(raw: str | None) -> Order | None:
    if raw is None:
        return None
    text = raw.strip()
    descending = text.startswith("-")
    field = text.lstrip("+-").strip()
    if not field or "," in field or not re.fullmatch(r"[A-Za-z0-9_.]+", field):
        raise catalogue(
            "FLOW-1432",
            "orderby",
            "sort_order",
            "Sort order specified is not correct, prepend + for ascending order and - for descending "
            f"order in the fieldName (got {raw!r}).",
        )
    return Order(field, descending)


def unknown_order_field(order: Order, allowed: Mapping[str, Any]) -> FlowInvalid:
    """The catalogue's answer for an ``orderby`` field we cannot sort on."""
    return catalogue(
        "FLOW-1433",
        "orderby",
        "order_field",
        f"Incorrect field= {order.field} passed in orderBy, example are +name, -name, name "
        f"(sortable: {', '.join(sorted(allowed))}).",
    )


def continuation_token(offset: int) -> str:
    """The opaque token of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = decoded["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise FlowInvalid("continuationToken", "token", "is not a token this API issued") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise FlowInvalid("continuationToken", "token", "is not a token this API issued")
    return offset


def matches(view: Mapping[str, Any], rule: Filter, *, folded: frozenset[str] = frozenset()) -> bool:
    """Whether an entity's JSON view passes ``rule`` (paths in ``folded`` compare without case)."""
    found = [value for value in _resolve(view, rule.path.split(".")) if value is not None]
    if rule.op == "exists":
        return bool(found)
    if rule.op == "absent":
        return not found
    fold = rule.path in folded
    if rule.op == "==":
        return any(_equal(value, wanted, fold) for value in found for wanted in rule.values)
    if rule.op == "!=":
        return not any(_equal(value, wanted, fold) for value in found for wanted in rule.values)
    return any(_compare(value, rule.values[0], rule.op) for value in found)


def _resolve(value: Any, segments: list[str]) -> Iterator[Any]:
    if not segments:
        if isinstance(value, list):  # a path ending on an array compares its items (with or without [])
            yield from value
        else:
            yield value
        return
    head, rest = segments[0], segments[1:]
    name = head[:-2] if head.endswith("[]") else head
    if not isinstance(value, Mapping) or name not in value:
        return
    child = value[name]
    if head.endswith("[]") and isinstance(child, list):
        for item in child:
            yield from _resolve(item, rest)
    else:
        yield from _resolve(child, rest)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _equal(value: Any, wanted: str, fold: bool) -> bool:
    text = _text(value)
    return text.casefold() == wanted.casefold() if fold else text == wanted


def _compare(value: Any, wanted: str, op: str) -> bool:
    left: Any = value
    right: Any = wanted
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            right = float(wanted)
        except ValueError:
            return False
    else:
        left = _text(value)
    if op == ">":
        return bool(left > right)
    if op == "<":
        return bool(left < right)
    if op == ">=":
        return bool(left >= right)
    return bool(left <= right)


def page_links(path: str, query: ListQuery, *, returned: int, total: int) -> dict[str, Any]:
    """``_links`` of a list answer: ``next`` (same filters, next offset) while items remain."""
    following = query.offset + returned
    if returned == 0 or following >= total:
        return {}
    params = [*query.items, ("continuationToken", continuation_token(following))]
    return {"next": {"href": f"{path}?{urlencode(params)}"}}


def answer(
    views: list[dict[str, Any]],
    total: int,
    residual: tuple[Filter, ...],
    query: ListQuery,
    path: str,
    *,
    folded: frozenset[str] = frozenset({"state"}),
) -> dict[str, Any]:
    """A list answer: the residual filters applied, the page cut, ``_links.next`` while more remain."""
    if residual:
        views = [view for view in views if all(matches(view, rule, folded=folded) for rule in residual)]
        total = len(views)
        if not query.count:
            views = views[query.offset : query.offset + query.limit]
    if query.count:
        return {"count": total}
    return {"items": views, "_links": page_links(path, query, returned=len(views), total=total)}


def list_query(
    request: Request,
    filters: Annotated[
        list[str] | None, Query(alias="property", description="path<op>value, repeat for AND")
    ] = None,
    orderby: Annotated[str | None, Query(description="Field, '-' prefix for descending")] = None,
    limit: Annotated[str | None, Query(description="Items per page, 1-100 (default 100)")] = None,
    count: Annotated[str | None, Query(description="true: answer {count} only")] = None,
    continuation_token: Annotated[str | None, Query(alias="continuationToken")] = None,
) -> ListQuery:
    """The list parameters, read from the raw query (the declared ones document them)."""
    return parse(request.url.query)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]
"""The endpoints' parameter: the list query of the request."""
