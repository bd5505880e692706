"""Segment jobs: the list (filter by status), "evaluate now" (a new job), a job's page with its counts.

A job still running polls its own page every second (htmx) until it is finished.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ConsoleApi
from clarion.console.web import ApiDep, console_url, form_of, is_htmx, render

router = APIRouter()

UPS = "/data/core/ups"
PAGE_SIZE = 50
STATUSES = ("NEW", "QUEUED", "PROCESSING", "CANCELLING", "CANCELLED", "FAILED", "SUCCEEDED")
FINISHED = frozenset({"CANCELLED", "FAILED", "SUCCEEDED"})
ALL_BATCH = "*"


@router.get("/segment-jobs")
async def segment_jobs(request: Request, api: ApiDep, status: str = "", offset: int = 0) -> Response:
    """The sandbox's segment jobs, newest first."""
    offset = max(offset, 0)
    wanted = status if status in STATUSES else None
    listing = await api.read(f"{UPS}/segment/jobs", start=offset, limit=PAGE_SIZE, status=wanted)
    jobs = listing["children"]
    return render(
        request,
        "audiences/jobs.html",
        title="Segment jobs",
        jobs=jobs,
        names=await audience_names(api, _segment_ids(jobs)),
        statuses=STATUSES,
        status=wanted or "",
        total=listing["_page"]["totalCount"],
        offset=offset,
        limit=PAGE_SIZE,
    )


@router.post("/segment-jobs")
async def evaluate_now(request: Request, api: ApiDep) -> Response:
    """Create a segment job for one audience (or ``*``: every batch audience) and show it."""
    segment_id = (await form_of(request)).get("segment", ALL_BATCH) or ALL_BATCH
    answer = await api.send("POST", f"{UPS}/segment/jobs", [{"segmentId": segment_id}])
    if answer.problem is not None:
        return render(
            request,
            "error.html",
            answer.problem.status,
            title="Not evaluated",
            problem=answer.problem,
            message=answer.problem.message,
        )
    return RedirectResponse(console_url(request, f"/segment-jobs/{answer.body['id']}"), 303)


@router.get("/segment-jobs/{job_id}")
async def segment_job(request: Request, api: ApiDep, job_id: str) -> Response:
    """One job: status, timing and, per audience, its members by status and namespace."""
    job = await api.read(f"{UPS}/segment/jobs/{job_id}")
    names = await audience_names(api, _segment_ids([job]))
    context: dict[str, Any] = {"job": job, "names": names, "finished": job["status"] in FINISHED}
    if is_htmx(request):
        return render(request, "audiences/job_status.html", **context)
    return render(request, "audiences/job.html", title=f"Segment job {job_id[:8]}", **context)


@router.post("/segment-jobs/{job_id}/cancel")
async def cancel_job(request: Request, api: ApiDep, job_id: str) -> Response:
    """Cancel a job waiting or running (a finished job's record is deleted by the API)."""
    answer = await api.send("DELETE", f"{UPS}/segment/jobs/{job_id}")
    if answer.problem is not None:
        return render(
            request,
            "error.html",
            answer.problem.status,
            title="Not cancelled",
            problem=answer.problem,
            message=answer.problem.message,
        )
    return RedirectResponse(console_url(request, "/segment-jobs"), 303)


async def audience_names(api: ConsoleApi, segment_ids: Iterable[str]) -> dict[str, str]:
    """Audience names by id, in one bulk read (audiences deleted since are left out)."""
    ids = sorted({segment_id for segment_id in segment_ids if segment_id != ALL_BATCH})
    if not ids:
        return {}
    answer = await api.send("POST", f"{UPS}/segment/definitions/bulk-get", {"ids": [{"id": i} for i in ids]})
    if answer.problem is not None:
        return {}
    return {key: view["name"] for key, view in answer.body["results"].items()}


def _segment_ids(jobs: Iterable[dict[str, Any]]) -> list[str]:
    return [segment["segmentId"] for job in jobs for segment in job["segments"]]
