"""Baseline of ``bench.tracking``: a bare Starlette app answering the same two paths the same way.

``GET /t/o/{token}`` → the same 42-byte GIF, ``GET /t/c/{token}`` → ``302`` to a fixed URL; no token is
verified, nothing is recorded, no middleware. What is left is the floor of any such endpoint on this machine
(HTTP parsing, Starlette's routing, one response) under the same load generator.

Run: ``.venv/bin/python -m uvicorn bench.baseline_tracking:app --port 8090 --no-access-log``
(``bench.tracking`` does this, with the options ``clarion serve`` gives uvicorn).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from clarion.feedback.endpoints import GIF

_NO_STORE = {"Cache-Control": "no-store, max-age=0"}


async def pixel(request: Request) -> Response:
    """The transparent GIF."""
    return Response(GIF, media_type="image/gif", headers=_NO_STORE)


async def click(request: Request) -> Response:
    """A redirect to a fixed URL."""
    return RedirectResponse("https://shop.example/landing", status_code=302, headers=_NO_STORE)


async def healthz(request: Request) -> Response:
    """Ready."""
    return Response(b"ok")


app = Starlette(
    routes=[
        Route("/t/o/{token}", pixel),
        Route("/t/c/{token}", click),
        Route("/healthz", healthz),
    ]
)
