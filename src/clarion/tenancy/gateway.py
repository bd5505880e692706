"""The gateway: turns the four auth headers of a request into a ``Principal`` (or an AEP gateway error).

Verified tokens are cached for a few seconds so the hot execution endpoints do not read the database
per request; a revoked token therefore stops working within twice ``auth_cache_seconds`` (an expired
answer is still served while its re-verification runs, see ``kit/cache.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from clarion.db.uow import UnitOfWork
from clarion.kit.cache import RefreshingCache
from clarion.kit.ids import hash_secret
from clarion.tenancy import errors
from clarion.tenancy.principal import Principal
from clarion.tenancy.service import PRODUCTION_SANDBOX, resolve_principal


class Gateway:
    """Authenticates requests from the ``Authorization``, ``x-api-key``, ``x-gw-ims-org-id`` headers."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], *, cache_seconds: float) -> None:
        self._unit_of_work = unit_of_work
        self._cache_seconds = cache_seconds
        self._cache: RefreshingCache[tuple[str, str, str, str], Principal] = RefreshingCache()

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """Return the caller's principal or raise the gateway error the contract prescribes."""
        token, client_id, ims_org_id = _required_headers(headers)
        # x-sandbox-name is optional in the AEP specs: absent means the production sandbox (§2.1 [I]).
        sandbox_name = headers.get("x-sandbox-name", "").strip() or PRODUCTION_SANDBOX
        key = (hash_secret(token), client_id, ims_org_id, sandbox_name)

        async def verify() -> tuple[Principal, float]:
            async with self._unit_of_work() as uow:
                principal, valid_for = await resolve_principal(
                    uow, token=token, client_id=client_id, ims_org_id=ims_org_id, sandbox_name=sandbox_name
                )
            return principal, min(self._cache_seconds, valid_for)

        return await self._cache.get(key, verify)

    def forget(self) -> None:
        """Drop every cached verification (tests, credential revocation)."""
        self._cache.forget()


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    authorization = headers.get("authorization")
    if not authorization:
        raise errors.missing_token()
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    client_id = headers.get("x-api-key", "").strip()
    if not client_id:
        raise errors.missing_api_key()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise errors.invalid_token()
    ims_org_id = headers.get("x-gw-ims-org-id", "").strip()
    if not ims_org_id:
        raise errors.missing_org_header()
    return token, client_id, ims_org_id


# The gateway headers as OpenAPI security schemes, so the document says which routes need them
# (api/openapi.py states them as one requirement). They never refuse: authenticate() does, in Adobe's words.
_BEARER = HTTPBearer(scheme_name="bearer", auto_error=False, description="Authorization: Bearer <token>")
_API_KEY = APIKeyHeader(name="x-api-key", scheme_name="apiKey", auto_error=False)
_IMS_ORG = APIKeyHeader(name="x-gw-ims-org-id", scheme_name="imsOrg", auto_error=False)
_SANDBOX = APIKeyHeader(
    name="x-sandbox-name", scheme_name="sandbox", auto_error=False, description="Absent: the prod sandbox"
)


async def current_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _api_key: Annotated[str | None, Security(_API_KEY)],
    _ims_org: Annotated[str | None, Security(_IMS_ORG)],
    _sandbox: Annotated[str | None, Security(_SANDBOX)],
) -> Principal:
    """FastAPI dependency: the authenticated caller."""
    gateway: Gateway = request.app.state.services.gateway
    principal = await gateway.authenticate(request.headers)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
