"""The task handlers of every domain, wired in one place (workers import this, domains never import it)."""

from __future__ import annotations

from clarion.activation.runs.export_jobs import EXPORT_JOB_TASK
from clarion.activation.runs.service import EXPORT_TASK
from clarion.activation.runs.tasks import ExportJobRunner, RunExecutor
from clarion.audiences.tasks import EVALUATE_TASK, SegmentJobs
from clarion.delivery.bundle import BundleCache
from clarion.delivery.service import QUEUE as DELIVERY_QUEUE
from clarion.delivery.service import SEND_TASK, WEBHOOK_TASK, Delivery
from clarion.executions import audience
from clarion.models.jobs import claim
from clarion.outbound.ledger import CallLedger
from clarion.outbound.queues import CALL_TASK
from clarion.outbound.queues import DIRECT_QUEUE as OUTBOUND_QUEUE
from clarion.outbound.sender import CallSender
from clarion.outbound.service import ActionCalls
from clarion.outbound.tasks import Calls
from clarion.queue.port import Job
from clarion.queue.worker import TaskRegistry
from clarion.services import Services

QUEUES: tuple[str, ...] = (DELIVERY_QUEUE, OUTBOUND_QUEUE, "default")
"""Queue names a worker consumes."""


class Tasks:
    """The registry of ``domain.verb`` handlers bound to a process's services, and what they hold open."""

    def __init__(self, services: Services) -> None:
        container = services.container
        bundles = BundleCache(
            container.unit_of_work, container.secrets, services.http, base_url=container.settings.base_url
        )
        self.call_sender = CallSender(container.unit_of_work, services.rules, container.secrets)
        self.delivery = Delivery(
            container.unit_of_work,
            container.queue,
            bundles,
            services.http,
            validity_seconds=container.settings.message_validity_seconds,
            backoff_base=container.settings.retry_base_seconds,
            suppressions=services.suppressions,
            action_calls=ActionCalls(
                container.unit_of_work, container.queue, services.rules, self.call_sender.action
            ),
        )
        self.call_ledger = CallLedger(container.unit_of_work, container.queue)
        self.registry = TaskRegistry()
        self.registry.register(CALL_TASK, Calls(self.call_sender, self.call_ledger).handle)
        self.registry.register(SEND_TASK, self.delivery.send)
        self.registry.register(WEBHOOK_TASK, self.delivery.webhook)
        self._container = container
        self.registry.register(audience.TRIGGER_TASK, self._trigger)
        self.registry.register(EVALUATE_TASK, SegmentJobs(container.unit_of_work).evaluate)
        runs = RunExecutor(container.unit_of_work, container.secrets, container.settings)
        self.registry.register(EXPORT_TASK, runs.handle)
        self.registry.register(
            EXPORT_JOB_TASK, ExportJobRunner(container.unit_of_work, container.settings).handle
        )

    async def _trigger(self, job: Job) -> None:
        # Claimed in the fan-out's transaction: a trigger redelivered after its commit (a worker killed
        # before the ack) neither queues nor counts its recipients twice.
        async with self._container.unit_of_work() as uow:
            if await claim(uow.session, job):
                await audience.trigger(uow, job.payload)

    async def close(self) -> None:
        """Flush ledger writes and close SMTP connections."""
        await self.delivery.close()
        await self.call_ledger.drain()
        await self.call_sender.close()
