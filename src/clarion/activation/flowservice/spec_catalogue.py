"""``GET /connectionSpecs`` and ``GET /flowSpecs``: the static catalogue, filtered like any other list."""

from __future__ import annotations

from typing import Any

from clarion.activation import listing
from clarion.activation.errors import FlowResourceNotFound
from clarion.activation.flowservice import specs

SORTABLE = ("id", "name")


def connection_specs(query: listing.ListQuery, path: str) -> dict[str, Any]:
    """Every connection spec, filtered, sorted and paged as the query asks."""
    return _page(specs.connection_spec_views(), query, path)


def flow_specs(query: listing.ListQuery, path: str) -> dict[str, Any]:
    """Every flow spec, filtered, sorted and paged as the query asks."""
    return _page(specs.flow_spec_views(), query, path)


def connection_spec(spec_id: str) -> dict[str, Any]:
    """``{"items": [spec]}`` for a connection spec id or alias, or the Flow Service 404."""
    spec = specs.connection_spec(spec_id)
    if spec is None:
        raise FlowResourceNotFound("connectionSpecs", spec_id)
    return {"items": [spec.view()]}


def flow_spec(spec_id: str) -> dict[str, Any]:
    """``{"items": [spec]}`` for a flow spec id or alias, or the Flow Service 404."""
    spec = specs.flow_spec(spec_id)
    if spec is None:
        raise FlowResourceNotFound("flowSpecs", spec_id)
    return {"items": [spec.view()]}


def _page(views: list[dict[str, Any]], query: listing.ListQuery, path: str) -> dict[str, Any]:
    matching = [view for view in views if all(listing.matches(view, rule) for rule in query.filters)]
    order = query.order
    if order is not None:
        if order.field not in SORTABLE:
            raise listing.unknown_order_field(order, dict.fromkeys(SORTABLE))
        matching.sort(key=lambda view: str(view[order.field]), reverse=order.descending)
    if query.count:
        return {"count": len(matching)}
    items = matching[query.offset : query.offset + query.limit]
    return {
        "items": items,
        "_links": listing.page_links(path, query, returned=len(items), total=len(matching)),
    }
