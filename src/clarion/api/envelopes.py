"""The error envelopes of the three API families, one renderer each, plus the AEP gateway bodies.

- AJO (``/ajo/…``): ``errorResponse`` — ``type``/``title``/``status``/``report.additionalContext``.
- AEP and Flow Service (``/data/…``, and Clarion's own ``/v1``): ``type``/``title``/``status``/``report``
  with ``detailed-message``, plus ``errorMessage``/``errorDetails``.
- Journey Orchestration (``/journey/orchestration``, ``/authoring``): ``status``, ``error`` as a JSON
  *string*, ``requestId``.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from starlette.responses import JSONResponse

from clarion import __version__
from clarion.errors import (
    ClarionError,
    GatewayError,
    JourneyInternalError,
    MessageEnvelope,
    ObjectEnvelope,
    UnsupportedMediaType,
)
from clarion.kit import ids

AEP_ERROR_TYPE = "https://ns.adobe.com/aep/errors/"
JO_SERVICE = "clarion-authoring-api"


class Family(enum.Enum):
    """Which envelope a path answers errors in."""

    AJO = "ajo"
    AEP = "aep"
    JO = "jo"


def family_for(path: str) -> Family:
    """The envelope family of a request path."""
    if path.startswith("/ajo/"):
        return Family.AJO
    if path.startswith(("/journey/orchestration", "/authoring")):
        return Family.JO
    return Family.AEP


def new_request_id() -> str:
    """A 32-character alphanumeric request id, as the gateway issues them."""
    return ids.new_request_id()


def render(error: ClarionError, family: Family, request_id: str) -> JSONResponse:
    """The response for ``error`` in the envelope of ``family``."""
    headers = {"x-request-id": request_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after + 0.499)))
    if isinstance(error, GatewayError):
        return JSONResponse({"error_code": error.code, "message": error.detail}, error.status, headers)
    if isinstance(error, MessageEnvelope):
        return JSONResponse({"message": error.detail}, error.status, headers)
    if isinstance(error, UnsupportedMediaType):
        body = {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": error.detail,
        }
        return JSONResponse(body, 400, headers)
    if family is Family.JO:
        return _render_jo(error, request_id, headers)
    if family is Family.AJO:
        return JSONResponse(_ajo_body(error, request_id), error.status, headers)
    return JSONResponse(_aep_body(error, request_id), error.status, headers)


def _ajo_body(error: ClarionError, request_id: str) -> dict[str, Any]:
    context = {"requestId": request_id, "message": error.detail}
    context.update({key: str(value) for key, value in error.context.items()})
    return {
        "type": AEP_ERROR_TYPE + _ajo_code(error),
        "title": error.title,
        "status": error.status,
        "report": {"additionalContext": context},
    }


def _ajo_code(error: ClarionError) -> str:
    # The AJO catalogue is unpublished (contract §1.6): we use MSG-<6 digits>-<status> of our own.
    if error.code.startswith("MSG-"):
        return error.code
    digits = "".join(ch for ch in error.code if ch.isdigit())[-6:].rjust(6, "0")
    return f"MSG-{digits}-{error.status}"


def _aep_body(error: ClarionError, request_id: str) -> dict[str, Any]:
    report: dict[str, Any] = {"detailed-message": error.detail, "request-id": request_id}
    report.update(error.context)
    return {
        "type": AEP_ERROR_TYPE + f"{error.code}-{error.status}",
        "title": error.title,
        "status": error.status,
        "report": report,
        "errorMessage": error.detail,
        "errorDetails": error.detail,
    }


def _render_jo(error: ClarionError, request_id: str, headers: dict[str, str]) -> JSONResponse:
    status = error.status
    code: int | str = int(error.code) if error.code.isdigit() else error.code
    family = "INPUT_OUTPUT_ERROR" if status < 500 else "INTERNAL_ERROR"
    message = error.detail
    if isinstance(error, JourneyInternalError):
        status, code, family, message = 500, 4000, "INTERNAL_ERROR", "INTERNAL ERROR"
    inner: dict[str, Any] = {
        "code": code,
        "family": error.context.get("family", family),
        "message": message,
        "service": JO_SERVICE,
        "version": __version__,
    }
    inner.update({key: value for key, value in error.context.items() if key != "family"})
    error_field = inner if isinstance(error, ObjectEnvelope) else json.dumps(inner, separators=(",", ":"))
    body = {"status": status, "error": error_field, "requestId": request_id}
    return JSONResponse(body, status, headers)
