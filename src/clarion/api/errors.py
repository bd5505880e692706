"""Exception handlers: every error leaves in the envelope of its API family; a 500 is logged as a bug."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from clarion.api.envelopes import family_for, new_request_id, render
from clarion.errors import ClarionError, Invalid, NotFound
from clarion.kit.outages import outage_of

log = structlog.get_logger()

NEWLINE = "\n"


class MethodNotAllowed(ClarionError):
    """The path exists but not with this method."""

    status = 405
    code = "CLARION-0405"
    title = "Method not allowed"


class InternalError(ClarionError):
    """An unexpected failure (a bug); details go to the log, never to the client."""

    status = 500
    code = "CLARION-0500"
    title = "Internal server error"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ClarionError, _clarion_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_left)
    app.add_exception_handler(Exception, _unexpected_error)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or new_request_id())


async def _clarion_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClarionError)
    return render(exc, family_for(request.url.path), _request_id(request))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(error) for error in exc.errors()]
    first = exc.errors()[0] if exc.errors() else {}
    context = {"field": _field(first.get("loc", ())), "rule": str(first.get("type", "invalid"))}
    error = Invalid("; ".join(problems) or "Invalid request", context=context)
    return render(error, family_for(request.url.path), _request_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: ClarionError
    if exc.status_code == 404:
        error = NotFound(f"No resource at {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}")
    else:
        error = Invalid(str(exc.detail))
        error.status = exc.status_code
    return render(error, family_for(request.url.path), _request_id(request))


async def _client_left(request: Request, exc: Exception) -> Response:
    # The body stopped: the client left, or GatewayMiddleware already answered (413, a NUL in the body) and
    # told the route so. Nobody reads this answer (the middleware drops it); it is no bug to log.
    return Response(status_code=400)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(exc, request.url.path, request.method, _request_id(request))


def unexpected_error_response(exc: BaseException, path: str, method: str, request_id: str) -> Response:
    """An exception no handler knew: a 503 when a dependency is down (``kit.outages``), else a logged 500.

    Both log lines carry the request id (bound by ``GatewayMiddleware``; passed here too for the rare
    error raised outside it), so the id in the answer finds the line.
    """
    family = family_for(path)
    outage = outage_of(exc)
    if outage is not None:
        log.warning(
            "dependency_unavailable",
            dependency=outage.dependency,
            # The first line only: SQLAlchemy appends the statement and its parameters (customer data).
            error=f"{type(exc).__name__}: {str(exc).partition(NEWLINE)[0]}",
            path=path,
            method=method,
            request_id=request_id,
        )
        return render(outage, family, request_id)
    log.error("unhandled_error", path=path, method=method, request_id=request_id, exc_info=exc)
    return render(internal_error(), family, request_id)


def internal_error() -> InternalError:
    """What a client sees of a bug: the request id; the details stay in the log."""
    return InternalError("Internal error: the failure was logged with this request id")


def _field(loc: Any) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    loc = error.get("loc", ())
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        position = loc[1] if len(loc) > 1 else "?"
        return f"Malformed JSON body: {reason} at position {position}"
    field = _field(loc)
    if kind == "missing":
        return f"{field}: field required"
    if kind == "extra_forbidden":
        return f"{field}: unknown field (not allowed here)"
    return f"{field}: {error.get('msg', 'invalid value')}"
