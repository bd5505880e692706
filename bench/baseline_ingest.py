"""Baseline of ``bench.intake``: a bare Starlette + msgspec endpoint that decodes the same HT body and
durably group-commits it into the same queue backend as Clarion before answering 202.

No authentication, no campaign checks, no limiter, no middleware, no metrics: what is left is the floor
that any durable ingest on this machine pays (HTTP parsing, JSON decode, one queue write per batch).

- ``BASELINE_BACKEND=sqlite``: ``clarion.queue.sqlite.SqliteQueue`` on ``BASELINE_SQLITE_PATH``;
- ``BASELINE_BACKEND=redis``: ``clarion.queue.redis_streams.RedisStreamQueue`` on ``BASELINE_REDIS_URL``
  (prefix ``BASELINE_REDIS_PREFIX``): the same Lua ``XADD`` script as Clarion's production queue.

The group commit is one writer task per process (as in the research's ``app_ingest.py``): it takes
everything pending (up to 512 requests), writes it with one ``enqueue``, then resolves every request's
future, so each 202 leaves only after its batch is durable.

Run: ``BASELINE_BACKEND=sqlite BASELINE_SQLITE_PATH=baseline-queue.db .venv/bin/python -m uvicorn
bench.baseline_ingest:app --port 8090 --workers 1 --no-access-log`` (``bench.intake`` does this).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clarion.queue.port import JobQueue, JobSpec

MAX_BATCH = 512


class Recipient(msgspec.Struct):
    """One recipient of the HT body."""

    userId: str
    namespace: str
    type: str = "external"
    context: dict[str, Any] | None = None


class Body(msgspec.Struct):
    """The HT request body."""

    requestId: str
    campaignId: str
    recipients: list[Recipient]


class Accepted(msgspec.Struct):
    """The 202 answer (same fields as Clarion's ``ExecutionResponse``, fixed author)."""

    executionId: str
    requestId: str


decoder = msgspec.json.Decoder(Body)
encoder = msgspec.json.Encoder()
JSON = "application/json"


class Ingest:
    """The queue and the writer task of one process."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.pending: asyncio.Queue[tuple[JobSpec, asyncio.Future[None]]] = asyncio.Queue()
        self.writer = asyncio.create_task(self._write_forever())

    async def _write_forever(self) -> None:
        while True:
            batch = [await self.pending.get()]
            while not self.pending.empty() and len(batch) < MAX_BATCH:
                batch.append(self.pending.get_nowait())
            try:
                await self.queue.enqueue([job for job, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def accept(self, job: JobSpec) -> None:
        """Return once the job's batch is durable."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.put_nowait((job, future))
        await future

    async def close(self) -> None:
        """Stop the writer and close the queue."""
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer
        await self.queue.close()


def build_queue() -> JobQueue:
    """The backend named by ``BASELINE_BACKEND``."""
    backend = os.environ.get("BASELINE_BACKEND", "sqlite")
    if backend == "sqlite":
        from clarion.queue.sqlite import SqliteQueue

        return SqliteQueue(Path(os.environ["BASELINE_SQLITE_PATH"]))
    if backend == "redis":
        from clarion.queue.redis_streams import RedisStreamQueue

        return RedisStreamQueue(
            os.environ["BASELINE_REDIS_URL"], prefix=os.environ.get("BASELINE_REDIS_PREFIX", "baseline")
        )
    raise ValueError(f"BASELINE_BACKEND must be sqlite or redis, not {backend!r}")


async def ingest(request: Request) -> Response:
    """Decode, make durable (group commit), answer 202."""
    body = await request.body()
    try:
        parsed = decoder.decode(body)
    except msgspec.DecodeError as error:
        return Response(encoder.encode({"error": str(error)}), status_code=400, media_type=JSON)
    execution = str(uuid.uuid4())
    job = JobSpec("baseline.ingest", msgspec.to_builtins(parsed), queue="delivery", job_id=execution)
    await request.app.state.ingest.accept(job)
    answer = Accepted(executionId=execution, requestId=parsed.requestId)
    return Response(encoder.encode(answer), status_code=202, media_type=JSON)


async def healthz(request: Request) -> Response:
    """Liveness, for the benchmark's readiness poll."""
    return Response(b'{"status":"ok"}', media_type=JSON)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Open the queue and start the writer; close both on shutdown."""
    app.state.ingest = Ingest(build_queue())
    try:
        yield
    finally:
        await app.state.ingest.close()


app = Starlette(
    routes=[
        Route("/ajo/im/executions/highthroughput", ingest, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
