"""Errors of the throttling and capping APIs, numbered as Journey Orchestration numbers them (contract §3.5).

Each error's ``code`` is its number in the documented catalogue and its context carries the ``schema``
(``throttlingConfigs$<sandbox>``) the envelope shows. HTTP statuses where the documentation gives none
follow the contract's [I] rule: 400 for the caller's mistakes, 404 for "not found", 500 for "unexpected".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clarion.errors import ClarionError, ObjectEnvelope
from clarion.throttling.validation import Verdict

THROTTLING_CONTEXT = "clarion.throttling.service"
CAPPING_CONTEXT = "clarion.throttling.capping"


@dataclass(frozen=True, slots=True)
class StateCodes:
    """Numbers of the three state errors, printed 14466/14467/14468 in every revision of Adobe's page."""

    already_deployed: str
    not_found: str
    not_deployed: str


SEQUENCE_CODES = StateCodes("1466", "1467", "1468")
DOCUMENTED_CODES = StateCodes("14466", "14467", "14468")


def state_codes(*, documented: bool) -> StateCodes:
    """The numbering a deployment chose (``Settings.throttling_documented_codes``)."""
    return DOCUMENTED_CODES if documented else SEQUENCE_CODES


class JourneyError(ClarionError):
    """A Journey Orchestration operation error; ``code`` is numeric, the context names the schema."""

    status = 400

    def __init__(self, message: str, *, code: str, schema: str, context: str, **extra: Any) -> None:
        super().__init__(message, code=code, context={"context": context, "schema": schema, **extra})


class JourneyNotFound(JourneyError):
    """The addressed configuration does not exist for the caller."""

    status = 404
    title = "Resource not found"


class JourneyUnexpected(JourneyError):
    """An operation failed for a reason that is not the caller's (a bug or a backend failure)."""

    status = 500
    title = "Internal server error"


class DeployedEndpointConfig(ObjectEnvelope, JourneyError):
    """Capping's documented 1451: HTTP 500, ``INPUT_OUTPUT_ERROR``, and ``error`` as an object."""

    status = 500


# Throttling -----------------------------------------------------------------------------------------------

UNEXPECTED = {
    "delete": ("1457", "Can't delete throttling config: unexpected error occurs"),
    "deploy": ("1458", "Can't deploy throttling config: unexpected error occurs"),
    "undeploy": ("1459", "Can't undeploy throttling config: unexpected error occurs"),
    "get": ("1460", "Can't get throttling config: unexpected error occurs"),
    "update": ("1462", "Can't update throttling config: unexpected error occurs"),
    "create": ("1464", "Can't create throttling config: unexpected error occurs"),
}
"""Operation → (code, message) of its documented "unexpected error"."""


def throttling_error(code: str, message: str, schema: str) -> JourneyError:
    """A 400 of the throttling API."""
    return JourneyError(message, code=code, schema=schema, context=THROTTLING_CONTEXT)


def delete_forbidden(schema: str) -> JourneyError:
    """1456: the configuration is deployed and ``forceDelete`` was not given."""
    return throttling_error(
        "1456", "Can't delete a deployed throttling config. Undeploy it before deleting it", schema
    )


def non_prod_sandbox(schema: str) -> JourneyError:
    """1463: throttling lives in the production sandbox only."""
    return throttling_error("1463", "Operation not allowed on throttling config: non prod sandbox", schema)


def create_limit(schema: str) -> JourneyError:
    """1465: the organization already has its one configuration."""
    return throttling_error("1465", "Can't create throttling config: only one config allowed per org", schema)


def already_deployed(codes: StateCodes, schema: str) -> JourneyError:
    """1466: deploy of a deployed configuration."""
    message = "Can't deploy throttling config: already deployed"
    return throttling_error(codes.already_deployed, message, schema)


def throttling_not_found(codes: StateCodes, schema: str) -> JourneyNotFound:
    """1467: no throttling configuration with that uid in the organization."""
    return JourneyNotFound(
        "throttling config not found", code=codes.not_found, schema=schema, context=THROTTLING_CONTEXT
    )


def throttling_unexpected(operation: str, schema: str) -> JourneyUnexpected:
    """1457 to 1464: the operation's documented "unexpected error"."""
    code, message = UNEXPECTED[operation]
    return JourneyUnexpected(message, code=code, schema=schema, context=THROTTLING_CONTEXT)


def invalid_throttling_payload(detail: str, schema: str) -> JourneyError:
    """ERR_THROTTLING_CONFIG_106 with what is wrong: the body cannot be stored."""
    return throttling_error(
        "ERR_THROTTLING_CONFIG_106", f"throttling config: invalid payload: {detail}", schema
    )


def not_deployable(action: str, verdict: Verdict, schema: str, *, context: str) -> JourneyError:
    """Deploy (or a live update) of a configuration that does not validate: its first error, all listed."""
    first = verdict.errors[0]
    messages = "; ".join(issue.message for issue in verdict.errors)
    return JourneyError(
        f"Can't {action}: {verdict.reason}: {messages}",
        code=first.code,
        schema=schema,
        context=context,
        errors=[issue.view() for issue in verdict.errors],
    )


# Capping --------------------------------------------------------------------------------------------------


def capping_not_found(schema: str) -> JourneyNotFound:
    """The documented 404 of the capping API."""
    return JourneyNotFound(
        "unknown given Unique ID", code="ERR_ENDPOINTCONFIG_404", schema=schema, context=CAPPING_CONTEXT
    )


def deployed_endpoint_config(schema: str) -> DeployedEndpointConfig:
    """1451: delete of a deployed capping configuration without ``forceDelete``."""
    return DeployedEndpointConfig(
        "Can't delete a deployed endpoint config. Undeploy it before deleting it",
        code="1451",
        schema=schema,
        context=CAPPING_CONTEXT,
        family="INPUT_OUTPUT_ERROR",
    )


def invalid_capping_payload(detail: str, schema: str, *, not_json: bool) -> JourneyError:
    """ERR_ENDPOINTCONFIG_112 (not JSON) or _111 (cannot be stored), with what is wrong."""
    if not_json:
        code, message = "ERR_ENDPOINTCONFIG_112", "can't create endpoint config: expecting a JSON payload"
    else:
        code, message = "ERR_ENDPOINTCONFIG_111", "can't create endpoint config: invalid payload"
    return JourneyError(
        f"capping config: {message}: {detail}", code=code, schema=schema, context=CAPPING_CONTEXT
    )
