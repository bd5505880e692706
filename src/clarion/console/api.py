"""``ConsoleApi``: how the console does anything — the public API, called in-process with the user's keys.

The console has no powers of its own: every read and every change goes through the same ASGI app, gateway,
role checks, validation and error envelopes as a client's request, over an in-process transport (no socket,
same process). An error answer becomes an ``ApiProblem`` the pages show in words; ``read`` raises it as
``ApiFailure`` for the console's error page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from clarion.console.sessions import Credentials

INTERNAL_BASE_URL = "http://clarion.internal"
API_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ApiProblem:
    """An API refusal in words: status, the message, and the field and position when the API names them."""

    status: int
    message: str
    context: dict[str, str]
    """Every scalar the error report carried (codes, request id…)."""
    field: str | None = None
    line: int | None = None
    column: int | None = None
    retry_after: str | None = None

    @property
    def where(self) -> str:
        """``line 3, column 7`` when the API gave a position, else empty."""
        if self.line is None:
            return ""
        return f"line {self.line}" + (f", column {self.column}" if self.column is not None else "")


class ApiFailure(Exception):
    """A page could not read what it shows: rendered by the console's error page (401 → sign-in)."""

    def __init__(self, problem: ApiProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """One API answer: the status, the decoded JSON body (None when empty), and the problem if refused."""

    status: int
    body: Any
    headers: httpx.Headers
    problem: ApiProblem | None

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.problem is None


class ConsoleApi:
    """The public API as one signed-in user sees it."""

    def __init__(self, client: httpx.AsyncClient, credentials: Credentials) -> None:
        self._client = client
        self.credentials = credentials

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        """Send one request as the user; never raises for an error status."""
        sent = {**self.credentials.headers(), **(headers or {})}
        clean = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        response = await self._client.request(
            method, path, params=clean, json=json_body, headers=sent, timeout=API_TIMEOUT_SECONDS
        )
        body = _decode(response)
        problem = None if response.is_success else problem_of(response.status_code, body, response.headers)
        return ApiResponse(response.status_code, body, response.headers, problem)

    async def read(self, path: str, **params: Any) -> Any:
        """GET ``path`` and return its JSON body; raise ``ApiFailure`` when the API refuses."""
        response = await self.call("GET", path, params=params)
        if response.problem is not None:
            raise ApiFailure(response.problem)
        return response.body

    async def send(self, method: str, path: str, json_body: Any = None, **params: Any) -> ApiResponse:
        """A change (POST, PUT, PATCH, DELETE); the page shows ``problem`` when there is one."""
        return await self.call(method, path, params=params, json_body=json_body)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def problem_of(status: int, body: Any, headers: httpx.Headers | None = None) -> ApiProblem:
    """Read the error envelope of any API family (AEP/AJO ``report``, gateway, Journey Orchestration)."""
    context: dict[str, Any] = {}
    message = ""
    if isinstance(body, dict):
        report = body.get("report")
        if isinstance(report, dict):
            context = dict(report.get("additionalContext") or report)
        error = body.get("error")
        if isinstance(error, str):
            try:
                error = json.loads(error)
            except ValueError:
                error = {"message": error}
        if isinstance(error, dict):
            context = {**error, **context}
        message = str(
            body.get("errorMessage")
            or context.get("detailed-message")
            or context.get("message")
            or body.get("message")
            or body.get("detail")
            or body.get("title")
            or ""
        )
    elif isinstance(body, str):
        message = body[:500]
    return ApiProblem(
        status=status,
        message=message or f"The API answered {status}",
        field=_text(context.get("field")),
        line=_number(context.get("line")),
        column=_number(context.get("column")),
        retry_after=headers.get("retry-after") if headers is not None else None,
        context={str(key): str(value) for key, value in context.items() if _is_scalar(value)},
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
