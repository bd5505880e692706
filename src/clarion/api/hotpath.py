"""A shortcut for the few endpoints that must sustain thousands of requests per second.

FastAPI's router tries every route in turn (about 40 here), and that scan measured more than half of the
CPU of a high-throughput trigger. This middleware answers the registered hot paths itself, before routing,
with the same envelopes: a ``ClarionError`` is rendered for its API family, an outage as a 503
(``kit.outages``), anything else is logged and rendered as a 500. Every other request goes on to FastAPI
unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from clarion.api.envelopes import family_for, new_request_id, render
from clarion.api.errors import unexpected_error_response
from clarion.errors import ClarionError

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class HotRoute:
    """What metrics and logs see as the matched route (``scope["route"].path``)."""

    path: str
    endpoint: Endpoint


class HotPathMiddleware:
    """Dispatches ``(method, path)`` pairs straight to their endpoints."""

    def __init__(self, app: ASGIApp, *, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = {key: HotRoute(key[1], endpoint) for key, endpoint in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except ClarionError as error:
            response = render(error, family_for(route.path), _request_id(scope))
        except Exception as error:
            # An outage (Redis or the database down) is a 503 with Retry-After, anything else a logged 500.
            # Not left to GatewayMiddleware: after it refused a body mid-stream (its answer already started),
            # the endpoint's ClientDisconnect must end here, quietly, not be raised to the server.
            response = unexpected_error_response(error, route.path, scope["method"], _request_id(scope))
        await response(scope, receive, send)


def _request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id") or new_request_id())
