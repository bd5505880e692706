"""The worker loop: reserve a batch, run its handlers concurrently, ack the successes in one call.

The jobs of a batch are leased for ``lease_seconds`` and the worker's ``LeaseKeeper`` (``queue/leases.py``)
renews the leases of every job still running every ``lease_seconds / 3``: a batch may take as long as its
handlers need, and the jobs of a worker that dies (SIGKILL, OOM, power) are reserved again by another worker
about ``lease_seconds`` later. A job is released from the heartbeat once it is acked or handed back with
``retry``; a job whose ack failed is released too, so its lease lapses and it comes back (the handlers'
ledger, ``models.jobs.claim``, makes the rerun a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar, overload

import structlog

from clarion.queue.leases import LeaseKeeper
from clarion.queue.port import Job, JobQueue

Handler = Callable[[Job], Awaitable[None]]
OutcomeHook = Callable[[str, str], None]
H = TypeVar("H", bound=Handler)

_MAX_IDLE_SECONDS = 0.5
_MAX_ERROR_CHARS = 2000

log = structlog.get_logger()


class TaskRegistry:
    """Maps task names (``domain.verb``) to async handlers; ``register`` also works as a decorator."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    @overload
    def register(self, name: str) -> Callable[[H], H]: ...

    @overload
    def register(self, name: str, handler: H) -> H: ...

    def register(self, name: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``name``, or return a decorator that does; names are unique."""
        if handler is None:
            return lambda decorated: self.register(name, decorated)
        if name in self._handlers:
            raise ValueError(f"task {name!r} is already registered")
        self._handlers[name] = handler
        return handler

    def get(self, name: str) -> Handler | None:
        """The handler of ``name``, or None when no such task is registered."""
        return self._handlers.get(name)

    def names(self) -> list[str]:
        """Registered task names, sorted."""
        return sorted(self._handlers)


class Worker:
    """Runs registered handlers for the jobs of some queues until ``stop()``."""

    def __init__(
        self,
        queue: JobQueue,
        registry: TaskRegistry,
        *,
        queues: Sequence[str],
        concurrency: int = 4,
        batch_size: int = 100,
        lease_seconds: float = 6.0,
        poll_interval: float = 0.05,
        on_outcome: OutcomeHook | None = None,
        lanes: int = 1,
    ) -> None:
        if not queues:
            raise ValueError("a worker needs at least one queue name")
        self._queue = queue
        self._registry = registry
        self._queues = list(queues)
        self._slots = asyncio.Semaphore(concurrency)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._on_outcome = on_outcome
        self._stopping = asyncio.Event()
        self._next_queue = 0
        self._signals: list[signal.Signals] = []
        self._lanes = max(1, lanes)
        self.leases = LeaseKeeper(queue, lease_seconds=lease_seconds)

    def stop(self) -> None:
        """Ask for a graceful stop: no new reserves; the batch in flight finishes and is acked."""
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """Make SIGTERM and SIGINT call ``stop()`` (call from inside the running loop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
            self._signals.append(sig)

    async def run(self) -> None:
        """Process batches until ``stop()``; poll less often (up to 0.5 s) while every queue is empty.

        With ``lanes`` > 1, that many batches are in flight at once: while one batch waits for its slowest
        handler (or for the ledger's group commit), the others keep the connections busy.
        """
        log.info(
            "worker.started", queues=self._queues, lease_seconds=self.leases.lease_seconds, lanes=self._lanes
        )
        try:
            async with self.leases.running():
                await asyncio.gather(*(self._lane() for _ in range(self._lanes)))
        finally:
            self._remove_signal_handlers()
        log.info("worker.stopped", queues=self._queues)

    async def _lane(self) -> None:
        idle = self._poll_interval
        while not self._stopping.is_set():
            if await self._work_once():
                idle = self._poll_interval
                continue
            await self._pause(idle)
            idle = min(idle * 2, max(self._poll_interval, _MAX_IDLE_SECONDS))

    async def _work_once(self) -> bool:
        """Process one batch from the next queue (round robin) that has work; False when none has."""
        for _ in self._queues:
            if self._stopping.is_set():
                return False
            name = self._queues[self._next_queue]
            self._next_queue = (self._next_queue + 1) % len(self._queues)
            jobs = await self._reserve(name)
            if jobs:
                self.leases.hold(jobs)
                try:
                    await self._process(jobs)
                finally:
                    self.leases.release(jobs)
                return True
        return False

    async def _reserve(self, name: str) -> list[Job]:
        """Lease a batch; a backend error is logged and treated as an empty queue (the loop backs off)."""
        try:
            return await self._queue.reserve(
                name, limit=self._batch_size, lease_seconds=self.leases.lease_seconds
            )
        except Exception:
            log.exception("worker.reserve_failed", queue=name)
            return []

    async def _pause(self, seconds: float) -> None:
        """Sleep while idle, waking early when ``stop()`` is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _process(self, jobs: Sequence[Job]) -> None:
        """Run the batch's handlers concurrently, then ack the successes in one call."""
        succeeded = await asyncio.gather(*(self._execute(job) for job in jobs))
        done = [job for job, ok in zip(jobs, succeeded, strict=True) if ok]
        if not done:
            return
        self.leases.settling(done)
        try:
            await self._queue.ack(done)
        except Exception:
            # Unacked jobs come back when their lease expires (the caller releases them from the heartbeat);
            # their ledger rows make the rerun a no-op.
            log.exception("worker.ack_failed", jobs=len(done))
            return
        for job in done:
            self._report(job.task, "ok")

    async def _execute(self, job: Job) -> bool:
        """Run one job's handler (bounded by ``concurrency``); True when it succeeded and must be acked."""
        handler = self._registry.get(job.task)
        if handler is None:
            # Dead-letter right away: no number of retries makes an unknown task known.
            exhausted = replace(job, attempts=max(job.attempts, job.max_attempts))
            await self._fail(exhausted, "unknown task", outcome="unknown_task")
            return False
        async with self._slots:
            try:
                await handler(job)
            except Exception as exc:
                log.warning("worker.handler_failed", task=job.task, job_id=job.id, exc_info=exc)
                await self._fail(job, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS])
                return False
        return True

    async def _fail(self, job: Job, error: str, *, outcome: str | None = None) -> None:
        """Hand a failed job back to the queue (retry with backoff, or dead-letter) and report it."""
        self.leases.release([job])
        try:
            retried = await self._queue.retry(job, error=error)
        except Exception:
            log.exception("worker.retry_failed", task=job.task, job_id=job.id)
            return
        outcome = outcome or ("retry" if retried else "dead")
        log.warning(
            "worker.job_failed",
            task=job.task,
            job_id=job.id,
            attempts=job.attempts,
            outcome=outcome,
            error=error,
        )
        self._report(job.task, outcome)

    def _report(self, task: str, outcome: str) -> None:
        """Forward an outcome to the metrics hook, if any."""
        if self._on_outcome is not None:
            self._on_outcome(task, outcome)

    def _remove_signal_handlers(self) -> None:
        """Give the signals back to their default behaviour once the worker has stopped."""
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()
