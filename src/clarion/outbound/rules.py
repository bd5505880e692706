"""Which throttling and capping rules apply to a call, read through short caches (no query per call).

Rules are cached ``RULES_TTL`` seconds (served stale while one reload runs, see ``kit/cache.py``), so a
deploy, an update of the rate or an undeploy reaches every process within half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from clarion.db.uow import UnitOfWork
from clarion.kit.cache import RefreshingCache
from clarion.limiter.port import Limiter, RateLimit
from clarion.throttling.service import (
    CappingRule,
    ThrottleRule,
    all_throttle_rules,
    capping_rules,
    throttle_rules,
)

RULES_TTL = 0.25


class RuleBook:
    """The rules of every organization, as the intake, the workers and the dispatcher need them."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], limiter: Limiter, *, ttl: float = RULES_TTL):
        self._unit_of_work = unit_of_work
        self._limiter = limiter
        self._ttl = ttl
        self._throttles: RefreshingCache[str, list[ThrottleRule]] = RefreshingCache()
        self._active: RefreshingCache[str, list[ThrottleRule]] = RefreshingCache()
        self._cappings: RefreshingCache[tuple[str, str], list[CappingRule]] = RefreshingCache()
        self._connections: dict[tuple[str, int], asyncio.Semaphore] = {}

    async def throttle_for(self, org_id: str, method: str, url: str) -> ThrottleRule | None:
        """The deployed throttling rule a new call falls under (an undeployed one throttles nothing new)."""

        async def load() -> tuple[list[ThrottleRule], float]:
            async with self._unit_of_work() as uow:
                return await throttle_rules(uow, org_id), self._ttl

        for rule in await self._throttles.get(org_id, load):
            if rule.draining_until is None and method in rule.methods and rule.pattern.matches(url):
                return rule
        return None

    async def active(self) -> list[ThrottleRule]:
        """Every organization's deployed rule, and rules undeployed less than 24 hours ago (draining).

        Never served stale: the dispatcher asks every ``refresh_seconds`` and a new rate must govern the
        next slots at once (the cache only merges concurrent asks into one query).
        """

        async def load() -> tuple[list[ThrottleRule], float]:
            async with self._unit_of_work() as uow:
                return await all_throttle_rules(uow), 0.0

        return await self._active.get("all", load)

    async def capping_gate(self, org_id: str, sandbox_id: str, method: str, url: str) -> CappingGate:
        """The gate of the deployed capping rule matching the call, or an open one."""

        async def load() -> tuple[list[CappingRule], float]:
            async with self._unit_of_work() as uow:
                return await capping_rules(uow, org_id, sandbox_id), self._ttl

        for rule in await self._cappings.get((org_id, sandbox_id), load):
            if method in rule.methods and rule.pattern.matches(url):
                return CappingGate(rule, self._limiter, self._connection_slots(rule))
        return OPEN_GATE

    def forget(self) -> None:
        """Drop cached rules (tests)."""
        for cache in (self._throttles, self._active, self._cappings):
            cache.forget()

    def _connection_slots(self, rule: CappingRule) -> asyncio.Semaphore | None:
        if rule.max_http_connections is None or rule.max_http_connections <= 0:
            return None
        key = (rule.config_uid, rule.max_http_connections)
        return self._connections.setdefault(key, asyncio.Semaphore(rule.max_http_connections))


@dataclass
class CappingGate:
    """Refuses tries over a capping rule's ``maxCallsCount`` per ``periodInMs`` (refused, never queued)."""

    rule: CappingRule | None
    limiter: Limiter | None
    connections: asyncio.Semaphore | None

    @property
    def refusal(self) -> str:
        """Why a try was refused."""
        if self.rule is None:
            return ""
        return (
            f"capped: more than {self.rule.max_calls} calls per {self.rule.period_ms} ms "
            f"(endpoint configuration {self.rule.config_uid})"
        )

    async def take(self) -> bool:
        """Count one try; False when it is over the limit."""
        if self.rule is None or self.limiter is None:
            return True
        rule = self.rule
        # The whole allowance may be spent at once (burst = maxCallsCount), then it refills evenly.
        limit = RateLimit(rate=rule.max_calls * 1000.0 / rule.period_ms, burst=max(1, rule.max_calls))
        decision = await self.limiter.check(f"capping:{rule.config_uid}", limit)
        return decision.allowed

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """Hold one of the rule's ``maxHttpConnections`` (per process) for the duration of a call."""
        if self.connections is None:
            yield
            return
        async with self.connections:
            yield


OPEN_GATE = CappingGate(None, None, None)
