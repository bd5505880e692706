"""Errors of the Flow Service API, with the codes of Adobe's Flow Service error catalogue.

Shared at ``activation/`` level: flowservice raises them for every rule, runs for an unknown run, and
export's file-name and profile-field checks (run when a dataflow is saved) answer with them.

Adobe documents ``FLOW-<code>-<status>`` codes (Flow Service error messages page; the 404 and 403
envelopes in contract §2.1). The AEP envelope renders ``type`` as ``…/errors/<code>-<status>``, so each
class carries the catalogue number as its ``code``. Our own rules (connection parameters, segment
selectors) answer in 1100 "Invalid request", the catalogue's code for a refusal by the flow provider.
"""

from __future__ import annotations

from typing import Any

from clarion.errors import Invalid, NotFound


class FlowResourceNotFound(NotFound):
    """A flow, connection, run or spec that does not exist in the caller's sandbox (FLOW-1439-404)."""

    code = "FLOW-1439"
    title = "Resource not found"

    def __init__(self, resource_type: str, resource_id: str) -> None:
        message = (
            f"The requested {resource_type} resource {resource_id} is not found. "
            "Verify the resource ID before trying again."
        )
        super().__init__(message, context={"id": resource_id, "type": resource_type})


class FlowInvalid(Invalid):
    """A request that breaks a rule; ``field`` and ``rule`` go to the report for programs to read."""

    code = "FLOW-1100"
    title = "Invalid request"

    def __init__(self, field: str, rule: str, message: str, *, code: str | None = None) -> None:
        detail = f"{field}: {message}" if field else message
        super().__init__(detail, code=code, context={"field": field, "rule": rule})


class IfMatchMissing(Invalid):
    """PATCH (and PUT) need the entity's etag in ``If-Match`` (FLOW-1403-400)."""

    code = "FLOW-1403"
    title = "Header is missing"

    def __init__(self) -> None:
        super().__init__(
            "The header 'If-Match' is missing in the request. Please provide the header and try again."
        )


class VersionMismatch(Invalid):
    """``If-Match`` names another version than the entity's current one (FLOW-1404-412)."""

    status = 412
    code = "FLOW-1404"
    title = "Version not matching"

    def __init__(self, supplied: str, current: str) -> None:
        super().__init__(
            f"The supplied version '{supplied}' does not match the current version on entity '{current}'. "
            "Please ensure that the supplied version matches the current version on entity and try again."
        )


class EmptyBody(Invalid):
    """A create or update request without a body (FLOW-1405-400)."""

    code = "FLOW-1405"
    title = "Invalid request"

    def __init__(self) -> None:
        super().__init__(
            "The request body cannot be null or empty. Please provide a request body and try again."
        )


def invalid(field: str, rule: str, message: str, **context: Any) -> FlowInvalid:
    """A 1100 refusal naming the field and the rule (extra ``context`` lands in the report)."""
    error = FlowInvalid(field, rule, message)
    error.context.update(context)
    return error


def catalogue(code: str, field: str, rule: str, message: str) -> FlowInvalid:
    """A refusal with one of the catalogue's own 400 codes (e.g. ``FLOW-1413`` unknown spec id)."""
    return FlowInvalid(field, rule, message, code=code)
