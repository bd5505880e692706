"""Queue handler of the audiences domain: ``audiences.evaluate`` runs one segment job."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import structlog

from clarion.audiences.evaluation import Evaluation, JobScope
from clarion.audiences.jobs import EVALUATE_TASK
from clarion.audiences.schemas import EvaluateJob
from clarion.db.uow import UnitOfWork
from clarion.queue.port import Job

__all__ = ["EVALUATE_TASK", "SegmentJobs"]

log = structlog.get_logger()


class SegmentJobs:
    """Runs segment jobs for the worker; a job the queue will not retry again is marked FAILED."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def evaluate(self, job: Job) -> None:
        """Evaluate the segment job named by the queue job's payload (safe to run again: idempotent)."""
        payload = msgspec.convert(job.payload, EvaluateJob)
        scope = JobScope(org_id=payload.orgId, sandbox_id=payload.sandboxId, job_id=payload.jobId)
        evaluation = Evaluation(self._unit_of_work, scope)
        try:
            await evaluation.run()
        except Exception as error:  # the details go to the log, the job records only the kind
            if job.attempts >= job.max_attempts:
                log.exception("segment_job.gave_up", job_id=scope.job_id, attempts=job.attempts)
                await evaluation.fail(
                    f"Evaluation failed after {job.attempts} attempts ({type(error).__name__})"
                )
            raise
