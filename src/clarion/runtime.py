"""Background services of a process: the queue worker, the throttle dispatcher and, when embedded, the
SMTP capture server and the inbound feedback listener.

With several API processes (``serve --workers N``) every process runs a worker (the queue hands each job
to one of them), but only the process holding ``$CLARION_HOME/capture.lock`` runs the SMTP capture server,
and only the one holding ``$CLARION_HOME/feedback.lock`` the feedback listener (one port each).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from typing import IO

import structlog

from clarion.activation.runs.scheduling import TICK_SECONDS, FlowScheduler
from clarion.audiences.scheduler import due_segment_jobs
from clarion.container import Container
from clarion.delivery.tokens import MessageTokens
from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.server import CaptureServer
from clarion.feedback.listener import FeedbackListener
from clarion.feedback.service import FeedbackIntake
from clarion.kit.clock import utcnow
from clarion.ops.metrics import Metrics
from clarion.outbound.dispatcher import Dispatcher
from clarion.queue.worker import Worker
from clarion.services import Services
from clarion.tasks import QUEUES, Tasks

log = structlog.get_logger()


class BackgroundServices:
    """Starts and stops the worker loop and the SMTP capture server of one process."""

    def __init__(
        self,
        services: Services,
        metrics: Metrics,
        *,
        run_worker: bool = True,
        capture_smtp: bool | None = None,
        feedback_smtp: bool | None = None,
    ) -> None:
        self.services = services
        self.container = services.container
        self.metrics = metrics
        self.run_worker = run_worker
        self.capture_smtp = (
            self.container.settings.should_capture_smtp if capture_smtp is None else capture_smtp
        )
        self.feedback_smtp = (
            self.container.settings.should_run_feedback_smtp if feedback_smtp is None else feedback_smtp
        )
        self._feedback: FeedbackListener | None = None
        self._worker: Worker | None = None
        self._tasks: Tasks | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._dispatcher: Dispatcher | None = None
        self._dispatcher_task: asyncio.Task[None] | None = None
        self._capture: CaptureServer | None = None
        self._schedulers_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._locks: list[IO[str]] = []

    async def start(self) -> None:
        """Start what this process should run."""
        settings = self.container.settings
        if self.run_worker:
            self._tasks = Tasks(self.services)
            self._worker = Worker(
                self.container.queue,
                self._tasks.registry,
                queues=QUEUES,
                concurrency=settings.worker_concurrency,
                lanes=settings.worker_lanes,
                lease_seconds=settings.queue_lease_seconds,
                on_outcome=self.metrics.record_job,
            )
            self._worker_task = asyncio.create_task(self._worker.run(), name="clarion-worker")
            self._dispatcher = Dispatcher(
                self.container.queue,
                self.container.limiter,
                self.services.rules,
                self._tasks.call_sender,
                self._tasks.call_ledger,
                self.services.lane_wakeups,
                metrics=self.metrics,
                lease_seconds=settings.queue_lease_seconds,
            )
            self._dispatcher_task = asyncio.create_task(self._dispatcher.run(), name="clarion-throttle")
            self._schedulers_task = asyncio.create_task(self._run_schedulers(), name="clarion-schedulers")
        if self.feedback_smtp and self._take_lock("feedback.lock"):
            self._feedback = feedback_listener(self.container, self.metrics)
            await self._feedback.start()
        if self.capture_smtp and self._take_lock("capture.lock"):
            # The mailbox simulator reports to this process's listener (its bound port) or the configured one.
            feedback_to = (
                (settings.feedback_smtp_host, self._feedback.port)
                if self._feedback is not None
                else (settings.feedback_smtp_host, settings.feedback_smtp_port)
            )
            self._capture = CaptureServer(
                Outbox(settings.outbox_path),
                host=settings.smtp_capture_host,
                port=settings.smtp_capture_port,
                feedback_to=feedback_to,
            )
            await self._capture.start()
            log.info("smtp_capture_listening", host=settings.smtp_capture_host, port=self._capture.port)

    async def stop(self) -> None:
        """Stop gracefully: in-flight jobs finish and are acknowledged."""
        self._stopping.set()
        if self._schedulers_task is not None:
            await self._schedulers_task
        if self._dispatcher is not None and self._dispatcher_task is not None:
            self._dispatcher.stop()
            await self._dispatcher_task
        if self._worker is not None and self._worker_task is not None:
            self._worker.stop()
            await self._worker_task
        if self._tasks is not None:
            await self._tasks.close()
        if self._capture is not None:
            await self._capture.stop()
        if self._feedback is not None:
            await self._feedback.stop()
        for lock in self._locks:
            lock.close()
        self._locks.clear()

    async def _run_schedulers(self) -> None:
        """Start due dataflow runs and the daily segment jobs (every worker process ticks; each run and
        job is created once, by deterministic ids)."""
        flows = FlowScheduler(self.container.unit_of_work, self.container.queue)
        schedule_time = self.container.settings.segment_schedule_time
        while not self._stopping.is_set():
            try:
                await flows.tick()
                async with self.container.unit_of_work() as uow:
                    await due_segment_jobs(uow, utcnow(), schedule_time=schedule_time)
            except Exception:
                # A failed tick (database restarting…) is retried at the next one; never stop the loop.
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)

    @property
    def capture(self) -> CaptureServer | None:
        """The SMTP capture server, when this process runs it."""
        return self._capture

    @property
    def feedback(self) -> FeedbackListener | None:
        """The feedback listener, when this process runs it."""
        return self._feedback

    def _take_lock(self, name: str) -> bool:
        """Take ``$CLARION_HOME/<name>`` (held until stop): one process of a home runs the server."""
        handle = (self.container.settings.home / name).open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._locks.append(handle)
        return True


def feedback_listener(container: Container, metrics: Metrics) -> FeedbackListener:
    """The inbound feedback listener of the settings, counting outcomes in ``metrics``."""
    settings = container.settings
    intake = FeedbackIntake(
        container.unit_of_work, MessageTokens(container.secrets), on_outcome=metrics.record_feedback
    )
    return FeedbackListener(intake, host=settings.feedback_smtp_host, port=settings.feedback_smtp_port)
