"""The domain runtime of one process, built from its backends: ``Services.build(container)``.

``container.py`` turns configuration into backends (database, queue, limiter, secret box); this module builds
what the domains keep for the life of a process on top of them: the gateway, the executions service, the
outbound rule book, the throttled HTTP client, the call intake (and the lane wakeups it rings for the throttle
dispatcher), and the domains that delete their rows with a sandbox. The app's lifespan and the CLI build a
``Container`` then its ``Services`` (``open_services``), and close them in the reverse order.

Endpoints reach these collaborators as ``request.app.state.services.<name>``, annotated with their domain's
own type, never by importing this module; ``tasks.py`` and ``runtime.py`` take a ``Services``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from clarion.config import Settings
from clarion.container import Container
from clarion.delivery.tokens import MessageTokens
from clarion.executions.service import Executions
from clarion.feedback.tracking import TrackingRecorder
from clarion.limiter.port import Limiter
from clarion.outbound.intake import CallIntake
from clarion.outbound.rules import RuleBook
from clarion.outbound.transport import ThrottledTransport
from clarion.outbound.wakeups import LaneWakeups
from clarion.profiles import service as profiles
from clarion.suppressions.cache import SuppressionCache
from clarion.suppressions.service import (
    SoftBouncePolicy,
    delete_sandbox_suppressions,
    set_soft_bounce_policy,
)
from clarion.tenancy.gateway import Gateway
from clarion.tenancy.service import SandboxDataOwner
from clarion.usage.meter import UsageMeter


@dataclass
class Services:
    """Every long-lived domain collaborator of a process, built once from its container and closed once."""

    container: Container
    gateway: Gateway
    executions: Executions
    usage: UsageMeter
    """The per-process quota view and usage writer the intake uses (``usage/meter.py``)."""
    rules: RuleBook
    http: httpx.AsyncClient
    lane_wakeups: LaneWakeups
    """Rung by ``calls`` when it queues a throttled call; the dispatcher's lanes listen (runtime.py)."""
    calls: CallIntake
    sandbox_data_owners: tuple[SandboxDataOwner, ...]
    """Called when a sandbox is deleted, in its unit of work (tenancy imports no domain built on it)."""
    message_tokens: MessageTokens
    """Reads the signed tokens of unsubscribe and tracking links (``feedback/endpoints.py``)."""
    tracking: TrackingRecorder
    """Buffers opens and clicks and writes them in batches (``feedback/tracking.py``)."""
    suppressions: SuppressionCache
    """The suppression lists the delivery worker checks each recipient against (``suppressions/cache.py``)."""

    @classmethod
    def build(cls, container: Container) -> Services:
        """Construct the domain runtime on ``container``'s backends; opens no connection yet."""
        settings = container.settings
        unit_of_work = container.unit_of_work
        rules = RuleBook(unit_of_work, container.limiter)
        lane_wakeups = LaneWakeups()
        set_soft_bounce_policy(SoftBouncePolicy(settings.soft_bounce_limit, settings.soft_bounce_days))
        usage = UsageMeter(
            unit_of_work,
            refresh_seconds=settings.usage_refresh_seconds,
            flush_seconds=settings.usage_flush_seconds,
        )
        return cls(
            container=container,
            gateway=Gateway(unit_of_work, cache_seconds=settings.auth_cache_seconds),
            executions=Executions(
                unit_of_work,
                container.queue,
                container.limiter,
                usage,
                idempotency_seconds=settings.idempotency_seconds,
            ),
            usage=usage,
            rules=rules,
            http=throttled_http_client(settings, rules, container.limiter),
            lane_wakeups=lane_wakeups,
            calls=CallIntake(unit_of_work, container.queue, rules, container.secrets, lane_wakeups),
            message_tokens=MessageTokens(container.secrets),
            tracking=TrackingRecorder(unit_of_work),
            sandbox_data_owners=(profiles.delete_sandbox_profiles, delete_sandbox_suppressions),
            suppressions=SuppressionCache(unit_of_work, interval=settings.suppression_refresh_seconds),
        )

    async def close(self) -> None:
        """Flush what was accepted and release connections; the container closes after this."""
        await self.executions.drain()
        await self.calls.drain()
        await self.tracking.close()
        await self.suppressions.close()
        await self.http.aclose()


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The backends, then the domain runtime on them; on exit the runtime closes first, then the backends."""
    container = Container.build(settings)
    try:
        services = Services.build(container)
        try:
            yield services
        finally:
            await services.close()
    finally:
        await container.close()


def throttled_http_client(settings: Settings, rules: RuleBook, limiter: Limiter) -> httpx.AsyncClient:
    """The HTTP client of outgoing calls: paced by the organizations' throttling rules, no redirects."""
    return httpx.AsyncClient(
        transport=ThrottledTransport(
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64)),
            rules,
            limiter,
            max_wait=settings.http_throttle_max_wait_seconds,
        ),
        timeout=httpx.Timeout(settings.http_timeout_seconds),
        follow_redirects=False,
    )
