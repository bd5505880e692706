"""Errors of the tenancy domain."""

from __future__ import annotations

from clarion.errors import Conflict, GatewayError, Invalid, JourneyInternalError, NotFound


def missing_token() -> GatewayError:
    """``Authorization`` is absent."""
    return GatewayError(403, "403010", "Oauth token is missing.")


def invalid_token() -> GatewayError:
    """The bearer token is malformed, unknown, expired or issued for another client."""
    return GatewayError(401, "401013", "Oauth token is not valid")


def missing_api_key() -> GatewayError:
    """``x-api-key`` is absent."""
    return GatewayError(403, "403000", "Api Key is required")


def invalid_api_key() -> GatewayError:
    """``x-api-key`` names no live credential."""
    return GatewayError(403, "403003", "Api Key is invalid")


def missing_org_header() -> GatewayError:
    """``x-gw-ims-org-id`` is absent."""
    return GatewayError(400, "400003", "Missing header")


def org_not_entitled() -> GatewayError:
    """The token belongs to another organization than ``x-gw-ims-org-id``."""
    return GatewayError(403, "403025", "Profile is not valid")


def role_required(required: str, role: str) -> GatewayError:
    """The credential's role is below what the route needs (Clarion's code; Adobe's gateway has none)."""
    return GatewayError(
        403, "403040", f"Forbidden: this API key has role '{role}'; the request requires role '{required}'"
    )


class CredentialNotFound(NotFound):
    """No API key or token with that id in the organization."""


class CredentialInvalid(Invalid):
    """A credential request breaks a rule (unknown role, revoking the key in use)."""


class SandboxNotFound(JourneyInternalError, NotFound):
    """``x-sandbox-name`` names no sandbox of the organization."""

    code = "CLARION-1404"


class OrganizationNotFound(NotFound):
    """The CLI was given an unknown organization."""


class SandboxExists(Conflict):
    """A sandbox with that name already exists."""


class SandboxInvalid(Invalid):
    """A sandbox create request breaks a naming or type rule."""


class InvalidEntitlement(Invalid):
    """An entitlement or cap outside its allowed range."""
