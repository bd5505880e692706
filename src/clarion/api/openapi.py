"""The OpenAPI document, true to the wire: every operation lists the error statuses and bodies it can send.

FastAPI documents a 422 ``HTTPValidationError`` Clarion never sends (validation errors leave as 400 in the
route's envelope, ``api/errors.py``) and none of the errors a route raises. ``install_openapi`` replaces
``app.openapi`` with FastAPI's document post-processed here, from what each route is:

- its path's API family (``envelopes.family_for``) names the error body: ``AjoError``, ``AepError`` or
  ``JourneyOrchestrationError`` (what ``envelopes.render`` produces for it);
- every route: 500 in its family's envelope (how a bug is answered, ``api/errors.py``);
- authenticated (its operation has ``security``: ``tenancy.gateway`` declares the headers as schemes): the
  gateway's 401/403 ``GatewayError``; a 400 ``GatewayError`` (no ``x-gw-ims-org-id``); a 404 for an unknown
  ``x-sandbox-name`` (Journey Orchestration answers that as its 500 INTERNAL ERROR); 503 with ``Retry-After``
  (the gateway, and nearly every such route, reads the database);
- a path parameter → 404; any parameter or body → 400; POST/PUT/PATCH → 400 ``MediaTypeError`` (not JSON)
  and 413.

Operations marked ``x-clarion-own-responses`` (the public feedback routes, ``feedback/endpoints.py``: HTML
pages, a GIF, redirects, answered outside the API's plumbing) keep the responses they document.

A route declares only what it raises specially, with ``responses=raises(409, 412, …)``: the status gets its
family's envelope here (429 and 503 with ``Retry-After``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from clarion.api.envelopes import Family, family_for

JSON = "application/json"
METHODS = ("get", "put", "post", "delete", "patch")
BODY_METHODS = frozenset({"post", "put", "patch"})
COMPONENTS = "#/components/schemas/"
COMPONENTS_KEY = "x-components"
OWN_RESPONSES = "x-clarion-own-responses"
PathsAndSchemas = tuple[dict[str, Any], dict[str, Any]]

FAMILY_ERROR = {Family.AJO: "AjoError", Family.AEP: "AepError", Family.JO: "JourneyOrchestrationError"}
GATEWAY_ERROR = "GatewayError"
MEDIA_TYPE_ERROR = "MediaTypeError"
MESSAGE_ERROR = "MessageError"

DESCRIPTIONS = {
    400: "Bad request: a parameter, header or the body breaks a rule (the body names it)",
    401: "The bearer token is not valid (the gateway's body)",
    403: "A gateway header is missing or refused (the gateway's body)",
    404: "Not found: the addressed resource, or the sandbox named by x-sandbox-name",
    409: "Conflict with the resource's current state",
    412: "If-Match names another version than the current one",
    413: "The body is larger than the configured limit",
    422: "Semantically invalid (the contract's 422 answers)",
    429: "Over a cap: retry after Retry-After seconds",
    500: "Internal error: a bug, logged with the request id (Journey Orchestration: also its INTERNAL ERROR "
    "answers, among them an unknown x-sandbox-name)",
    503: "A backend (database, queue) is unavailable: retry after Retry-After seconds",
}

_STRING = {"type": "string"}
_CONTEXT = {"type": "object", "additionalProperties": True}
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    FAMILY_ERROR[Family.AJO]: {
        "title": "AjoError",
        "description": "AJO errorResponse (paths under /ajo/).",
        "type": "object",
        "required": ["type", "title", "status", "report"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer"},
            "report": {
                "type": "object",
                "required": ["additionalContext"],
                "properties": {
                    "additionalContext": {
                        "type": "object",
                        "required": ["requestId", "message"],
                        "properties": {"requestId": _STRING, "message": _STRING},
                        "additionalProperties": _STRING,
                    }
                },
            },
        },
    },
    FAMILY_ERROR[Family.AEP]: {
        "title": "AepError",
        "description": "AEP / Flow Service error (paths under /data/, and Clarion's own /v1).",
        "type": "object",
        "required": ["type", "title", "status", "report", "errorMessage", "errorDetails"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer"},
            "report": {
                "type": "object",
                "required": ["detailed-message", "request-id"],
                "properties": {"detailed-message": _STRING, "request-id": _STRING},
                "additionalProperties": True,
            },
            "errorMessage": _STRING,
            "errorDetails": _STRING,
        },
    },
    FAMILY_ERROR[Family.JO]: {
        "title": "JourneyOrchestrationError",
        "description": (
            "Journey Orchestration error (/journey/orchestration, /authoring): `error` is the JSON text of "
            "JourneyOrchestrationErrorDetail, or that object itself for the few answers documented so."
        ),
        "type": "object",
        "required": ["status", "error", "requestId"],
        "properties": {
            "status": {"type": "integer"},
            "error": {"anyOf": [_STRING, {"$ref": "#/components/schemas/JourneyOrchestrationErrorDetail"}]},
            "requestId": _STRING,
        },
    },
    "JourneyOrchestrationErrorDetail": {
        "title": "JourneyOrchestrationErrorDetail",
        "type": "object",
        "required": ["code", "family", "message", "service", "version"],
        "properties": {
            "code": {"anyOf": [{"type": "integer"}, _STRING]},
            "family": _STRING,
            "message": _STRING,
            "service": _STRING,
            "version": _STRING,
        },
        "additionalProperties": True,
    },
    GATEWAY_ERROR: {
        "title": "GatewayError",
        "description": "The AEP gateway's body for a missing or refused authentication header.",
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": _STRING, "message": _STRING},
    },
    MEDIA_TYPE_ERROR: {
        "title": "MediaTypeError",
        "description": "A body that is not JSON (any API family).",
        "type": "object",
        "required": ["type", "status", "title", "detail"],
        "properties": {"type": _STRING, "status": {"type": "integer"}, "title": _STRING, "detail": _STRING},
    },
    MESSAGE_ERROR: {
        "title": "MessageError",
        "description": "The ad-hoc activation API's refusals: only a message.",
        "type": "object",
        "required": ["message"],
        "properties": {"message": _STRING},
    },
}

RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
}
REQUEST_ID = {"description": "The request id (the caller's x-request-id, or a new one)", "schema": _STRING}

SECURITY: list[dict[str, list[str]]] = [
    {"bearer": [], "apiKey": [], "imsOrg": [], "sandbox": []},
    {"bearer": [], "apiKey": [], "imsOrg": []},
]
"""The gateway headers, as one requirement (FastAPI lists each scheme apart, from ``tenancy.gateway``'s
declarations, which also give ``components.securitySchemes``); x-sandbox-name may be left out."""


def raises(*statuses: int, also: str | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for statuses a route raises itself; ``also`` names a second body (a component)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"description": DESCRIPTIONS[status]}
        if also is not None:
            response["content"] = {JSON: {"schema": _ref(also)}}
        responses[status] = response
    return responses


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: the route's name (camelCased in the document)."""
    return route.name


def request_id_parameter(meaning: str) -> dict[str, Any]:
    """The optional ``x-request-id`` header of a route that gives it a meaning (idempotency, a job's id)."""
    return {"name": "x-request-id", "in": "header", "description": meaning, "schema": _STRING}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself: ``model`` as a named component.

    The schemas ride in the operation as ``x-components`` until ``build_document`` moves them.
    """
    schema = model.model_json_schema(ref_template=f"{COMPONENTS}{{model}}")
    components = {**schema.pop("$defs", {}), model.__name__: schema}
    content = {JSON: {"schema": _ref(model.__name__)}}
    return {"requestBody": {"required": True, "content": content, COMPONENTS_KEY: components}}


def alias_operation_id(prefix: str) -> Callable[[APIRoute], str]:
    """The operation ids of routes served again under ``prefix``: the name after the prefix's words."""
    words = prefix.strip("/").replace("/", "_")
    return lambda route: f"{words}_{route.name}"


def install_openapi(app: FastAPI, *, extras: Iterable[Callable[[], PathsAndSchemas]] = ()) -> None:
    """Serve the post-processed document; ``extras`` add the paths of routes FastAPI does not know."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, extras)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI, extras: Iterable[Callable[[], PathsAndSchemas]]) -> dict[str, Any]:
    """FastAPI's document, the ``extras``, and every operation's true error responses."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for extra in extras:
        paths, components = extra()
        document["paths"].update(paths)
        schemas.update(components)
    schemas.update(ERROR_SCHEMAS)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, method, operation in _operations(document):
        for name, schema in operation.get("requestBody", {}).pop(COMPONENTS_KEY, {}).items():
            schemas.setdefault(name, schema)
        if operation.get("security"):
            # FastAPI lists the schemes as alternatives; the gateway needs them together.
            operation["security"] = SECURITY
        operation["operationId"] = _camel(operation["operationId"])
        if not operation.pop(OWN_RESPONSES, False):
            _document_errors(path, method, operation)
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _camel(name: str) -> str:
    words = [word for word in re.split(r"[_\W]+", name) if word]
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def _document_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    if _is_fastapi_422(responses.get("422")):
        del responses["422"]
    family_error = FAMILY_ERROR[family_for(path)]
    wanted = _sent_errors(path, method, operation)
    for key, declared in responses.items():
        if key.isdigit() and int(key) >= 400:
            # Declared with a body of its own (a health answer): that body only; else the family's envelope.
            wanted.setdefault(int(key), [] if "content" in declared else [family_error])
    for status, names in sorted(wanted.items()):
        responses[str(status)] = _error_response(status, names, responses.get(str(status)))
    operation["responses"] = dict(sorted(responses.items()))


def _sent_errors(path: str, method: str, operation: dict[str, Any]) -> dict[int, list[str]]:
    """The error statuses an operation sends whatever its handler does, each with its possible bodies."""
    family = family_for(path)
    authenticated = bool(operation.get("security"))
    parameters = operation.get("parameters", [])
    body_method = method in BODY_METHODS
    # Any route: a bug is answered 500 in the family's envelope (api/errors.py), never a bare page.
    wanted = {500: [FAMILY_ERROR[family]]}
    if parameters or "requestBody" in operation or authenticated or body_method:
        wanted[400] = [FAMILY_ERROR[family]]
        wanted[400] += [GATEWAY_ERROR] if authenticated else []
        wanted[400] += [MEDIA_TYPE_ERROR] if body_method else []
    if body_method:
        wanted[413] = [FAMILY_ERROR[family]]
    if any(parameter.get("in") == "path" for parameter in parameters):
        wanted[404] = [FAMILY_ERROR[family]]
    if authenticated:
        wanted[401] = wanted[403] = [GATEWAY_ERROR]
        wanted[503] = [FAMILY_ERROR[family]]
        if family is not Family.JO:  # an unknown sandbox (Journey Orchestration: its 500)
            wanted[404] = [FAMILY_ERROR[family]]
    return wanted


def _is_fastapi_422(response: dict[str, Any] | None) -> bool:
    schema = ((response or {}).get("content", {}).get(JSON) or {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _error_response(status: int, names: list[str], declared: dict[str, Any] | None) -> dict[str, Any]:
    """The response object: the envelopes ``names`` (and what the route declared), Retry-After on 429/503."""
    declared = declared or {}
    alternatives: list[dict[str, Any]] = [_ref(name) for name in names]
    own = (declared.get("content", {}).get(JSON) or {}).get("schema")
    own_body = own is not None and own not in alternatives
    if own is not None and own_body:
        alternatives.append(own)
    response: dict[str, Any] = {
        "description": declared.get("description") or DESCRIPTIONS.get(status, "Error"),
        "headers": {"x-request-id": REQUEST_ID, **declared.get("headers", {})},
        "content": {JSON: {"schema": alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}}},
    }
    if status in (429, 503):
        # Every envelope of these statuses carries Retry-After; a route's own body (a health answer) may not.
        response["headers"]["Retry-After"] = {**RETRY_AFTER, "required": not own_body}
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"{COMPONENTS}{name}"}
