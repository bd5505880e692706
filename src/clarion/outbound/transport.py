"""The throttling transport of the shared ``httpx`` client: SMS, push and webhook calls are paced too.

A call made inside ``calls_for(org_id)`` that falls under the organization's deployed throttling
configuration (method and URL, as the events API matches them) takes the next slot of that configuration
from the shared GCRA limiter — the same key and rate as the dispatcher's queued custom-action calls, so one
configuration's rate covers both — and goes out when its slot comes. A call whose slot is further away than
it may wait raises ``Throttled`` instead, taking no slot: it is an ``httpx.TransportError``, which delivery
treats as a temporary failure and retries later through the queue.

Calls made outside ``calls_for`` (no organization) pass straight through. Custom-action calls are never
paced here (the dispatcher already holds their slot): the sender makes them outside any ``calls_for``, with
its own client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from types import TracebackType

import httpx

from clarion.limiter.port import Limiter
from clarion.outbound.queues import slot_key, throttle_limit
from clarion.outbound.rules import RuleBook

calling_org: ContextVar[str | None] = ContextVar("calling_org", default=None)
"""The organization the outbound HTTP calls of the current task are made for (None: no throttling)."""


@contextlib.contextmanager
def calls_for(org_id: str | None) -> Iterator[None]:
    """Make the outbound HTTP calls inside the block (and tasks started in it) for ``org_id``."""
    token = calling_org.set(org_id)
    try:
        yield
    finally:
        calling_org.reset(token)


class Throttled(httpx.TransportError):
    """The call was not sent: its throttling slot is too far away (or the throttle could not be asked)."""


class ThrottledTransport(httpx.AsyncBaseTransport):
    """Paces each request by its organization's throttling configuration, then hands it to ``inner``."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, rules: RuleBook, limiter: Limiter, *, max_wait: float
    ) -> None:
        self._inner = inner
        self._rules = rules
        self._limiter = limiter
        self._max_wait = max_wait

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for the request's slot (if a configuration covers it), then send it."""
        org_id = calling_org.get()
        if org_id is not None:
            await self._pace(org_id, request)
        return await self._inner.handle_async_request(request)

    async def _pace(self, org_id: str, request: httpx.Request) -> None:
        max_wait = self.max_wait(request)
        try:
            rule = await self._rules.throttle_for(org_id, request.method, str(request.url))
            if rule is None:
                return
            decision = await self._limiter.reserve(
                slot_key(rule.config_uid), throttle_limit(rule), max_wait=max_wait
            )
        except Exception as exc:
            # Sending unpaced could break the customer's rate; a later try will find the throttle again.
            raise Throttled(f"throttle unavailable: {type(exc).__name__}: {exc}", request=request) from exc
        if not decision.allowed:
            raise Throttled(
                f"the next slot of throttling configuration {rule.config_uid} "
                f"({rule.max_throughput}/s) is more than {max_wait:g} s away",
                request=request,
            )
        if decision.wait > 0:
            await asyncio.sleep(decision.wait)

    def max_wait(self, request: httpx.Request) -> float:
        """How long ``request`` may wait for its slot: its pool timeout, at most the transport's bound.

        httpx's pool timeout is the time a request may wait for its turn to go out; the bound keeps a
        waiting delivery well inside its job's lease.
        """
        timeouts = request.extensions.get("timeout") or {}
        pool = timeouts.get("pool")
        return self._max_wait if pool is None else min(float(pool), self._max_wait)

    async def __aenter__(self) -> ThrottledTransport:
        """Open the inner transport."""
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Close the inner transport."""
        await self._inner.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
