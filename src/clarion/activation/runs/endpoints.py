"""HTTP endpoints of runs: the Flow Service ``/runs`` reads, ad-hoc activation, segmentation export jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse

from clarion.activation.listing import ListQueryDep
from clarion.activation.runs import adhoc, export_jobs, service
from clarion.activation.runs.schemas import ExportJobCreate
from clarion.activation.runs.views import export_job_view
from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import MESSAGE_ERROR, raises, request_id_parameter
from clarion.kit.clock import utcnow
from clarion.kit.params import Id, limit_query, offset_query
from clarion.tenancy.gateway import ReaderDep, UserDep

FLOWSERVICE = "/data/foundation/flowservice"
"""The Flow Service root: ``flowservice`` serves its specs, connections and flows; runs are read here."""
router = APIRouter(tags=["activation"])
# Case-insensitive without the (?i) flag, which ECMA regexes (the OpenAPI document's) do not know.
EXPORT_JOB_STATUS = "^({})$".format(
    "|".join(
        "".join(f"[{letter}{letter.lower()}]" for letter in status)
        for status in ("NEW", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED")
    )
)


def flowservice_root(request: Request) -> str:
    """The absolute Flow Service root of this server (the links of runs)."""
    return str(request.base_url).rstrip("/") + FLOWSERVICE


# Runs ----------------------------------------------------------------------------------------------------


@router.get(f"{FLOWSERVICE}/runs")
async def list_runs(
    request: Request, principal: ReaderDep, uow: UoWDep, query: ListQueryDep
) -> dict[str, Any]:
    """Dataflow runs, newest first (filters such as ``flowId==…`` or ``metrics.statusSummary.status==…``)."""
    return await service.search_runs(uow, principal, query, path="/runs", base_url=flowservice_root(request))


@router.get(f"{FLOWSERVICE}/runs/{{run_id}}")
async def read_run(run_id: Id, request: Request, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """One run, as ``{items: [run], _links: {}}``."""
    return await service.run_item(uow, principal, run_id, base_url=flowservice_root(request))


# Ad-hoc activation and export jobs ----------------------------------------------------------------------


@router.post("/data/core/activation/disflowprovider/adhocrun", responses=raises(400, also=MESSAGE_ERROR))
async def run_adhoc_activation(
    principal: UserDep,
    uow: UoWDep,
    container: ContainerDep,
    body: Annotated[Any, Body()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Export audiences of dataflows now (v2 with the versioned ``Accept`` header, else v1 with exportIds)."""
    request = adhoc.parse(body, accept)
    settings = container.settings
    delay = timedelta(seconds=settings.activation_first_run_delay_seconds)
    created = await adhoc.activate(uow, principal, request, now=utcnow(), first_run_delay=delay)
    return adhoc.order(created, settings.base_url)


@router.post(
    "/data/core/ups/export/jobs",
    responses={
        200: {
            "description": "The export job, as GET /data/core/ups/export/jobs/{id} shows it",
            "headers": {"X-Location": {"description": "The job's path", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    openapi_extra={"parameters": [request_id_parameter("Recorded with the export job")]},
)
async def create_export_job(
    body: ExportJobCreate, principal: UserDep, uow: UoWDep, request: Request
) -> JSONResponse:
    """Export profiles (of audiences) to a dataset folder."""
    request_id = request.headers.get("x-request-id", "")
    job = await export_jobs.create(uow, principal, body, request_id=request_id)
    location = f"/data/core/ups/export/jobs/{job.id}"
    return JSONResponse(
        export_job_view(job, ims_org_id=principal.ims_org_id), headers={"X-Location": location}
    )


@router.get("/data/core/ups/export/jobs")
async def list_export_jobs(
    principal: ReaderDep,
    uow: UoWDep,
    limit: Annotated[int, limit_query(100)] = 20,
    offset: Annotated[int, offset_query("Offset into the list, newest first")] = 0,
    status: Annotated[str | None, Query(pattern=EXPORT_JOB_STATUS)] = None,
) -> dict[str, Any]:
    """Export jobs of the sandbox, newest first."""
    jobs, total = await export_jobs.page(uow, principal, limit=limit, offset=offset, status=status)
    following = offset + len(jobs)
    return {
        "records": [export_job_view(job, ims_org_id=principal.ims_org_id) for job in jobs],
        "page": {
            "sortField": "createdTime",
            "sort": "desc",
            "pageOffset": str(offset),
            "pageSize": len(jobs),
        },
        "link": {
            "next": f"/data/core/ups/export/jobs?limit={limit}&offset={following}"
            if following < total
            else ""
        },
    }


@router.get("/data/core/ups/export/jobs/{export_job_id}")
async def read_export_job(export_job_id: Id, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """One export job."""
    job = await export_jobs.get(uow, principal, export_job_id)
    return export_job_view(job, ims_org_id=principal.ims_org_id)


@router.delete("/data/core/ups/export/jobs/{export_job_id}")
async def cancel_export_job(export_job_id: Id, principal: UserDep, uow: UoWDep) -> dict[str, Any]:
    """Mark an export job for cancelling (200 with a body, the contract's [I] choice)."""
    await export_jobs.cancel(uow, principal, export_job_id)
    return {"status": True, "message": "Export job has been marked for cancelling"}
