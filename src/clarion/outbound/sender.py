"""One custom-action call: build the request, send it with retries inside its timeout; its ledger record.

Retry rule (contract §3.7): up to 3 retries within the call's timeout, for any failure except 401, 403 and
404; every retry takes a slot of the configuration that paces the call (``RetrySlot``), like the first try.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp

from clarion.actions.service import ActionSpec, OutboundRequest, load_action
from clarion.db.uow import UnitOfWork
from clarion.kit.cache import RefreshingCache
from clarion.kit.secretbox import SecretBox
from clarion.outbound.ledger import call_record, clip_response
from clarion.outbound.rules import RuleBook
from clarion.outbound.schemas import CallJob, CallRecord

MAX_RETRIES = 3
NOT_RETRIED = frozenset({401, 403, 404})
IN_FLIGHT = 64
"""Calls one process has on the wire at once (enough for 5,000/s at 25 ms, or 85/s at 750 ms each)."""
_ACTION_TTL = 1.0

RetrySlot = Callable[[float], Awaitable[bool]]
"""Waits for the slot of a retry (given the seconds left); False when none comes in time."""


class CallSender:
    """Sends calls of custom actions, at most ``IN_FLIGHT`` at once per process, with its own client.

    ``aiohttp`` rather than the shared ``httpx`` client: calls are this runtime's hot path (up to 5,000/s
    per organization), and against the same local server ``httpx`` cost 1,771 CPU-µs per request where
    ``aiohttp`` cost 82 (bench/README.md, "HTTP clients"). Its own client also means the
    calls, which already hold their throttle slot, never take a second one in the shared transport.
    Bounded by a semaphore so that slots coming due together wait here, not inside the connection pool.
    """

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], rules: RuleBook, box: SecretBox) -> None:
        self._unit_of_work = unit_of_work
        self._box = box
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._rules = rules
        self._actions: RefreshingCache[tuple[str, str, str], ActionSpec | None] = RefreshingCache()

    async def send(self, call: CallJob, throttle_slot: RetrySlot | None = None) -> CallRecord:
        """Send a queued ``call``; its final ledger record (sent or failed).

        ``throttle_slot`` paces retries of a throttled call; a capping configuration that matches the
        request refuses (not delays) any try over its limit.
        """
        action = await self.action(call.org, call.sandbox, call.action)
        if action is None:
            return call_record(call, "failed", response="the custom action was deleted")
        try:
            request = action.build_request(call.context)
        except ValueError as error:
            return call_record(call, "failed", response=f"request not built: {error}")
        gate = await self._rules.capping_gate(call.org, call.sandbox, request.method, request.url)
        if not await gate.take():
            return call_record(call, "failed", response=gate.refusal)

        async def retry_slot(left: float) -> bool:
            if throttle_slot is not None and not await throttle_slot(left):
                return False
            return await gate.take()

        async with gate.connection():
            return await self._attempts(call, request, retry_slot)

    async def close(self) -> None:
        """Close the client's connections."""
        if self._session is not None:
            await self._session.close()

    async def action(self, org_id: str, sandbox_id: str, action_id: str) -> ActionSpec | None:
        """The action as of at most a second ago (None: deleted)."""

        async def load() -> tuple[ActionSpec | None, float]:
            async with self._unit_of_work() as uow:
                return await load_action(uow, org_id, sandbox_id, action_id, box=self._box), _ACTION_TTL

        return await self._actions.get((org_id, sandbox_id, action_id), load)

    async def _attempts(self, call: CallJob, request: OutboundRequest, retry_slot: RetrySlot) -> CallRecord:
        deadline = time.monotonic() + request.timeout
        attempts = 0
        while True:
            attempts += 1
            started = time.monotonic()
            status, response = await self._try(request, seconds_left=deadline - started)
            latency_ms = (time.monotonic() - started) * 1000
            if status is not None and status < 400:
                return call_record(call, "sent", attempts, status, response, latency_ms)
            left = deadline - time.monotonic()
            give_up = status in NOT_RETRIED or attempts > MAX_RETRIES or left <= 0
            if give_up or not await retry_slot(left):
                return call_record(call, "failed", attempts, status, response, latency_ms)

    async def _try(self, request: OutboundRequest, *, seconds_left: float) -> tuple[int | None, str]:
        """One HTTP exchange: (status, start of the answer), or (None, why it failed)."""
        timeout = aiohttp.ClientTimeout(total=max(seconds_left, 0.001))
        try:
            async with (
                self._in_flight,
                self._client().request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    data=request.content,
                    timeout=timeout,
                    allow_redirects=True,  # custom actions follow redirects (contract §3.7)
                ) as answer,
            ):
                text = await answer.text(errors="replace")
        except TimeoutError:
            return None, f"timeout after {request.timeout:g} s"
        except (aiohttp.ClientError, OSError) as error:
            return None, clip_response(f"{type(error).__name__}: {error}")
        return answer.status, clip_response(text)

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the event loop that is running then.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=IN_FLIGHT, limit_per_host=0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session
