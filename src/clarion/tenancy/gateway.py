"""The gateway: turns the four auth headers of a request into a ``Principal`` (or an AEP gateway error),
and refuses a caller whose key's role is below the route's (403 ``403040``).

Verified tokens are cached for ``auth_cache_seconds`` so the hot execution endpoints do not read the
database per request. Revocation still takes effect within a second in every process: each gateway reads
the one-row revocation counter (``credential_revision``) when its last read is older than
``REVISION_CHECK_SECONDS`` / 2 (in the background) and waits for that read when it is older than
``REVISION_CHECK_SECONDS``; when the counter moved, the cache is dropped. The cost is one indexed read per
process twice a second under load, never one per request.

Every authenticated route declares the role it needs with one of ``ReaderDep``, ``UserDep``,
``DeveloperDep``, ``AdminDep``; there is no role-less principal dependency, and
``tests/tenancy/test_roles.py`` walks the route table to check that each private route has exactly one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from clarion.db.uow import UnitOfWork
from clarion.kit.cache import RefreshingCache
from clarion.kit.ids import hash_secret
from clarion.tenancy import errors
from clarion.tenancy.principal import Principal, Role
from clarion.tenancy.service import PRODUCTION_SANDBOX, credential_revision, resolve_principal

log = structlog.get_logger()

REVISION_CHECK_SECONDS = 0.5
"""A cached verification is served only if the revocation counter was read less than this long ago."""


class RevisionWatch:
    """Calls ``on_change`` when the revocation counter moves; reads it at most every ``interval`` / 2."""

    def __init__(
        self,
        read: Callable[[], Awaitable[int]],
        on_change: Callable[[], None],
        *,
        interval: float = REVISION_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._on_change = on_change
        self._interval = interval
        self._clock = clock
        self._revision: int | None = None
        self._checked_at = float("-inf")  # when the last successful read started
        self._task: asyncio.Task[None] | None = None

    def is_fresh(self) -> bool:
        """True when the counter was read less than half an interval ago (no await needed: the hot path)."""
        return self._clock() - self._checked_at < self._interval / 2

    async def ensure_fresh(self) -> None:
        """Return at once when the counter is fresh; refresh in the background, or wait when overdue."""
        age = self._clock() - self._checked_at
        if age < self._interval / 2:
            return
        task = self._task
        if task is None:
            task = self._task = asyncio.ensure_future(self._check())
        if age >= self._interval:
            # shield: a cancelled request must not cancel the read the others wait for.
            await asyncio.shield(task)

    async def _check(self) -> None:
        started = self._clock()
        try:
            revision = await self._read()
        except Exception as error:
            # Fail open on the cache only: a revocation cannot be committed while the database is down
            # either, and the entries expire after auth_cache_seconds anyway.
            log.warning("credential_revision_unreadable", error=repr(error))
            self._checked_at = started
            return
        finally:
            self._task = None
        if self._revision is not None and revision != self._revision:
            self._on_change()
        self._revision = revision
        self._checked_at = started


class Gateway:
    """Authenticates requests from the ``Authorization``, ``x-api-key``, ``x-gw-ims-org-id`` headers."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], *, cache_seconds: float) -> None:
        self._unit_of_work = unit_of_work
        self._cache_seconds = cache_seconds
        self._cache: RefreshingCache[tuple[str, str, str, str], Principal] = RefreshingCache()
        self._revisions = RevisionWatch(self._read_revision, self._cache.forget)

    async def authenticate(self, headers: Mapping[str, str], *, role: Role) -> Principal:
        """The caller's principal, or the gateway error the contract prescribes (403 when below ``role``)."""
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

        # Nothing is cached without cache_seconds: every request reads the database anyway.
        if self._cache_seconds > 0 and not self._revisions.is_fresh():
            await self._revisions.ensure_fresh()
        principal = await self._cache.get(key, verify)
        if not principal.role.includes(role):
            raise errors.role_required(role.value, principal.role.value)
        return principal

    def forget(self) -> None:
        """Drop every cached verification (tests, credential revocation)."""
        self._cache.forget()

    async def _read_revision(self) -> int:
        async with self._unit_of_work() as uow:
            return await credential_revision(uow)


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


class RoleRequirement:
    """FastAPI dependency: the authenticated caller, refused (403) unless its key's role includes ``role``."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
        _api_key: Annotated[str | None, Security(_API_KEY)],
        _ims_org: Annotated[str | None, Security(_IMS_ORG)],
        _sandbox: Annotated[str | None, Security(_SANDBOX)],
    ) -> Principal:
        """Authenticate the request and check the role."""
        gateway: Gateway = request.app.state.services.gateway
        principal = await gateway.authenticate(request.headers, role=self.role)
        request.state.principal = principal
        return principal


ReaderDep = Annotated[Principal, Depends(RoleRequirement(Role.READ_ONLY))]
"""A read: any key of the organization."""
UserDep = Annotated[Principal, Depends(RoleRequirement(Role.USER))]
"""Runs something (executions, events, jobs, profile writes): ``user`` or above."""
DeveloperDep = Annotated[Principal, Depends(RoleRequirement(Role.DEVELOPER))]
"""Builds something (pools, configurations, campaigns, actions, throttling, audiences, dataflows)."""
AdminDep = Annotated[Principal, Depends(RoleRequirement(Role.ADMIN))]
"""Manages the organization (sandboxes, API keys and tokens)."""
