"""The key durability test: SIGKILL a worker mid-batch; a second worker finishes; every effect exists once.

The first worker acks a batch only after all its handlers ran, so killing it while the effect count is
part-way through a batch guarantees jobs whose effect is committed but whose ack never happened. They come
back when their lease expires (attempt 2) and the job ledger turns them into ``skip`` rows instead of
second effects.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from clarion.config import Settings
from clarion.queue.port import JobSpec
from tests.queue.conftest import EffectsDb, QueueFactory
from tests.queue.helpers import EMPTY, counts, eventually, log_tail, start_worker_process, wait_for_clock
from tests.queue.worker_process import TASK

pytestmark = pytest.mark.timeout(60)

JOBS = 500
BATCH = 50


async def test_killed_worker_loses_nothing_and_repeats_nothing(
    make_queue: QueueFactory, effects_db: EffectsDb, tmp_path: Path
) -> None:
    queue = make_queue()
    ids = await queue.enqueue([JobSpec(TASK, {"i": i}) for i in range(JOBS)])
    database = ("--database-url", effects_db.url, "--table", effects_db.table.name)
    work = ("--batch", str(BATCH), "--concurrency", "4", "--work-ms", "8")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    first = start_worker_process(make_queue.process_args(), first_log, *database, "--lease", "2", *work)
    try:

        async def mid_batch() -> int:
            # Past the first ack, and the current batch has at least half its jobs left to run.
            done = await effects_db.count()
            return done if done > BATCH and 0 < done % BATCH <= BATCH // 2 else 0

        done_at_kill = await eventually(mid_batch, timeout=20, interval=0.005, what=log_tail(first_log))
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    assert done_at_kill < JOBS

    second = start_worker_process(make_queue.process_args(), second_log, *database, "--lease", "1", *work)
    try:

        async def all_done_and_acked() -> bool:
            return await effects_db.count() >= JOBS and counts(await queue.stats()) == EMPTY

        await eventually(all_done_and_acked, timeout=30, what=log_tail(second_log))
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 15) == 0, log_tail(second_log)
    finally:
        if second.poll() is None:
            second.kill()

    effects = await effects_db.per_job("effect")
    assert set(effects) == set(ids)
    assert all(n == 1 for n in effects.values()), {job: n for job, n in effects.items() if n != 1}
    # The kill left committed-but-unacked jobs: they were delivered again and skipped by the ledger.
    skipped = await effects_db.attempts("skip")
    assert skipped, "no redelivery happened: the test did not exercise the crash window"
    assert min(skipped) >= 2
    assert await queue.reserve("default", limit=10, lease_seconds=1) == []


async def test_a_killed_workers_jobs_run_elsewhere_within_ten_seconds(
    make_queue: QueueFactory, effects_db: EffectsDb, tmp_path: Path
) -> None:
    """With the default lease: a live worker keeps its jobs past the lease (heartbeat), and once it is
    SIGKILLed mid-run another worker runs them within 10 s, each effect once."""
    lease = Settings.model_fields["queue_lease_seconds"].default
    queue = make_queue()
    jobs = 20
    ids = await queue.enqueue([JobSpec(TASK, {"i": i}) for i in range(jobs)])
    database = ("--database-url", effects_db.url, "--table", effects_db.table.name)
    common = ("--lease", str(lease), "--batch", str(jobs), "--concurrency", str(jobs), "--record-start")
    stuck_log, rescuer_log = tmp_path / "stuck.log", tmp_path / "rescuer.log"

    # The first worker takes every job and works on them far longer than a lease.
    stuck = start_worker_process(
        make_queue.process_args(), stuck_log, *database, *common, "--work-ms", "600000"
    )
    rescuer = None
    try:

        async def all_started() -> bool:
            return await effects_db.count("start") == jobs

        await eventually(all_started, timeout=20, what=log_tail(stuck_log))
        started_at = time.time()
        rescuer = start_worker_process(
            make_queue.process_args(), rescuer_log, *database, *common, "--work-ms", "5"
        )

        # Twice the lease: the live worker's heartbeat keeps its jobs from the polling rescuer.
        async def rescuer_polling() -> bool:
            return "worker.started" in rescuer_log.read_text(errors="replace")

        await eventually(rescuer_polling, timeout=20, what=log_tail(rescuer_log))
        await wait_for_clock(started_at + 2 * lease)
        assert await effects_db.count("start") == jobs, "a live worker's jobs were taken over"

        stuck.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert await asyncio.to_thread(stuck.wait, 10) == -signal.SIGKILL

        async def all_done() -> bool:
            return await effects_db.count("effect") == jobs

        await eventually(all_done, timeout=10, interval=0.05, what=log_tail(rescuer_log))
        redelivered_in = time.monotonic() - killed_at
    finally:
        for process in (stuck, rescuer):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    print(f"redelivered and run {redelivered_in:.2f} s after the kill (lease {lease:g} s)")
    assert redelivered_in <= 10
    effects = await effects_db.per_job("effect")
    assert set(effects) == set(ids)
    assert all(n == 1 for n in effects.values())
    assert set(await effects_db.attempts("effect")) == {2}
