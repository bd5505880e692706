"""The worker loop: handlers, acks, retries, dead letters, concurrency and graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from clarion.queue.port import Job, JobQueue, JobSpec
from clarion.queue.worker import TaskRegistry, Worker
from tests.queue.conftest import EffectsDb, QueueFactory
from tests.queue.helpers import EMPTY, counts, eventually, log_tail, start_worker_process
from tests.queue.worker_process import TASK

pytestmark = pytest.mark.timeout(30)


class Outcomes:
    """The metrics hook under test: records every ``(task, outcome)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, task: str, outcome: str) -> None:
        self.seen.append((task, outcome))

    def of(self, outcome: str) -> int:
        return sum(1 for _, seen in self.seen if seen == outcome)


async def stop(worker: Worker, running: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(running, timeout=10)


def test_registry_registers_by_decorator_or_call() -> None:
    registry = TaskRegistry()

    @registry.register("mail.send")
    async def send(job: Job) -> None:
        del job

    async def export(job: Job) -> None:
        del job

    assert registry.register("data.export", export) is export
    assert registry.get("mail.send") is send
    assert registry.get("nothing.here") is None
    assert registry.names() == ["data.export", "mail.send"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mail.send", export)


async def test_worker_runs_handlers_and_acks_them(queue: JobQueue) -> None:
    handled: list[int] = []
    registry = TaskRegistry()

    @registry.register("t.record")
    async def record(job: Job) -> None:
        handled.append(job.payload["i"])

    outcomes = Outcomes()
    worker = Worker(queue, registry, queues=["default"], batch_size=7, on_outcome=outcomes)
    running = asyncio.create_task(worker.run())
    await queue.enqueue([JobSpec("t.record", {"i": i}) for i in range(30)])

    async def all_acked() -> bool:
        return outcomes.of("ok") == 30

    await eventually(all_acked, what="30 acknowledged jobs")
    await stop(worker, running)
    assert sorted(handled) == list(range(30))
    assert counts(await queue.stats()) == EMPTY


async def test_failing_handler_is_retried_then_dead_lettered(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=3, backoff_base=0.05)
    attempts: list[int] = []
    registry = TaskRegistry()

    @registry.register("t.broken")
    async def broken(job: Job) -> None:
        attempts.append(job.attempts)
        raise RuntimeError("the printer is on fire")

    outcomes = Outcomes()
    worker = Worker(queue, registry, queues=["default"], on_outcome=outcomes)
    running = asyncio.create_task(worker.run())
    await queue.enqueue([JobSpec("t.broken")])

    async def dead() -> bool:
        return outcomes.of("dead") == 1

    await eventually(dead, what="the job to be dead-lettered")
    await stop(worker, running)
    assert attempts == [1, 2, 3]
    assert outcomes.seen == [("t.broken", "retry"), ("t.broken", "retry"), ("t.broken", "dead")]
    assert counts(await queue.stats()) == {**EMPTY, "dead": 1}


async def test_unknown_task_is_dead_lettered_at_once(queue: JobQueue) -> None:
    outcomes = Outcomes()
    worker = Worker(queue, TaskRegistry(), queues=["default"], on_outcome=outcomes)
    running = asyncio.create_task(worker.run())
    await queue.enqueue([JobSpec("t.nobody_handles_this")])

    async def reported() -> bool:
        return bool(outcomes.seen)

    await eventually(reported, what="an outcome")
    await stop(worker, running)
    assert outcomes.seen == [("t.nobody_handles_this", "unknown_task")]
    assert counts(await queue.stats()) == {**EMPTY, "dead": 1}


async def test_worker_consumes_every_listed_queue(queue: JobQueue) -> None:
    seen: list[str] = []
    registry = TaskRegistry()

    @registry.register("t.where")
    async def where(job: Job) -> None:
        seen.append(job.queue)

    worker = Worker(queue, registry, queues=["default", "other"])
    running = asyncio.create_task(worker.run())
    await queue.enqueue([JobSpec("t.where", queue="other"), JobSpec("t.where", queue="default")])

    async def both() -> bool:
        return len(seen) == 2

    await eventually(both, what="a job from each queue")
    await stop(worker, running)
    assert sorted(seen) == ["default", "other"]


async def test_concurrency_is_bounded(queue: JobQueue) -> None:
    running_now, peak = 0, 0
    registry = TaskRegistry()

    @registry.register("t.busy")
    async def busy(job: Job) -> None:
        nonlocal running_now, peak
        running_now += 1
        peak = max(peak, running_now)
        await asyncio.sleep(0.02)  # the job's work, not synchronisation
        running_now -= 1

    outcomes = Outcomes()
    worker = Worker(queue, registry, queues=["default"], concurrency=3, batch_size=12, on_outcome=outcomes)
    await queue.enqueue([JobSpec("t.busy") for _ in range(12)])
    running = asyncio.create_task(worker.run())

    async def done() -> bool:
        return outcomes.of("ok") == 12

    await eventually(done, what="12 jobs")
    await stop(worker, running)
    assert peak == 3


async def test_stop_lets_the_batch_in_flight_finish(queue: JobQueue) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    registry = TaskRegistry()

    @registry.register("t.slow")
    async def slow(job: Job) -> None:
        started.set()
        await release.wait()

    outcomes = Outcomes()
    worker = Worker(queue, registry, queues=["default"], batch_size=2, on_outcome=outcomes)
    await queue.enqueue([JobSpec("t.slow") for _ in range(4)])
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), timeout=10)

    worker.stop()
    finished, _ = await asyncio.wait({running}, timeout=0.2)
    assert not finished, "run() returned while handlers were still in flight"
    release.set()
    await asyncio.wait_for(running, timeout=10)
    assert outcomes.seen == [("t.slow", "ok"), ("t.slow", "ok")]
    assert counts(await queue.stats()) == {**EMPTY, "ready": 2}


async def test_sigterm_stops_a_worker_process_gracefully(
    make_queue: QueueFactory, effects_db: EffectsDb, tmp_path: Path
) -> None:
    queue = make_queue()
    total, batch = 40, 8
    await queue.enqueue([JobSpec(TASK, {"i": i}) for i in range(total)])
    log_path = tmp_path / "worker.log"
    process = start_worker_process(
        make_queue.process_args(),
        log_path,
        *("--database-url", effects_db.url, "--table", effects_db.table.name),
        *("--lease", "30", "--batch", str(batch), "--concurrency", "4", "--work-ms", "300", "--record-start"),
    )
    try:

        async def in_flight() -> bool:
            return await effects_db.count("start") > await effects_db.count("effect")

        await eventually(in_flight, timeout=15, what=f"jobs in flight\n{log_tail(log_path)}")
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(process.wait, 15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 0, log_tail(log_path)

    started, finished = await effects_db.per_job("start"), await effects_db.per_job("effect")
    assert set(started) == set(finished), "a job in flight did not finish"
    assert 0 < len(finished) < total, "SIGTERM must stop the worker before the queue is drained"
    assert len(finished) % batch == 0, "the whole reserved batch is finished and acked"
    assert counts(await queue.stats()) == {**EMPTY, "ready": total - len(finished)}
