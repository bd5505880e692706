"""HTTP endpoints of the Segmentation API (``/data/core/ups``): segment definitions and segment jobs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import raises
from clarion.audiences import jobs, previews, service
from clarion.audiences.schemas import (
    BulkGet,
    Estimate,
    PqlCheck,
    PqlCheckRequest,
    PreviewCreate,
    PreviewQuery,
    PreviewResults,
    SegmentDefinitionCreate,
    SegmentDefinitionUpdate,
    SegmentJobCreate,
)
from clarion.audiences.views import BASE_PATH, definition_view, job_view
from clarion.kit.params import Id, Offset, Start, limit_query, page_query, text_query
from clarion.tenancy.gateway import DeveloperDep, ReaderDep, UserDep

router = APIRouter(prefix="/data/core/ups", tags=["audiences"])
pql_router = APIRouter(prefix="/v1/audiences", tags=["audiences"])

Limit = Annotated[int, limit_query(1000)]
Sort = Annotated[str | None, text_query("[attribute]:[asc|desc], comma-separated")]


@router.post("/segment/definitions", responses=raises(422))
async def create_segment_definition(
    body: SegmentDefinitionCreate, principal: DeveloperDep, uow: UoWDep
) -> dict[str, Any]:
    """Create a segment definition (an audience) from a PQL expression."""
    return definition_view(await service.create_segment(uow, principal, body), principal)


@router.get("/segment/definitions")
async def list_segment_definitions(
    principal: ReaderDep,
    uow: UoWDep,
    start: Start = None,
    limit: Limit = 100,
    page: Annotated[int, page_query("Page number (when start is not given)")] = 0,
    sort: Sort = None,
) -> dict[str, Any]:
    """The sandbox's segment definitions, one page at a time."""
    offset = start if start is not None else page * limit
    rows, total, orders = await service.list_segments(uow, principal, limit=limit, offset=offset, sort=sort)
    more = offset + len(rows) < total
    return {
        "segments": [definition_view(row, principal) for row in rows],
        "page": {
            "totalCount": total,
            "totalPages": -(-total // limit),
            "sortField": orders[0][0],
            "sort": orders[0][1],
            "pageSize": len(rows),
            "limit": limit,
        },
        "link": {"next": _next(f"segment/definitions?start={offset + len(rows)}&limit={limit}", sort)}
        if more
        else {},
    }


@router.post("/segment/definitions/bulk-get", status_code=207)
async def bulk_get_segment_definitions(body: BulkGet, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """Several segment definitions by id (207); ids not found are listed under ``errors``."""
    ids = [item.id for item in body.ids]
    found = await service.bulk_segments(uow, principal, ids)
    return _multi_status(
        ids, {key: definition_view(row, principal) for key, row in found.items()}, "Segment definition"
    )


@router.get("/segment/definitions/{segment_id}")
async def read_segment_definition(segment_id: Id, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """One segment definition."""
    return definition_view(await service.get_segment(uow, principal, segment_id), principal)


@router.patch("/segment/definitions/{segment_id}", responses=raises(422))
async def update_segment_definition(
    segment_id: Id, body: SegmentDefinitionUpdate, principal: DeveloperDep, uow: UoWDep
) -> dict[str, Any]:
    """Overwrite the fields given of a segment definition."""
    return definition_view(await service.update_segment(uow, principal, segment_id, body), principal)


@router.delete("/segment/definitions/{segment_id}", responses=raises(409))
async def delete_segment_definition(segment_id: Id, principal: DeveloperDep, uow: UoWDep) -> dict[str, Any]:
    """Delete a segment definition and its memberships (refused while a dataflow activates it)."""
    await service.delete_segment(uow, principal, segment_id)
    return {"status": True, "message": f"Segment definition with id '{segment_id}' has been deleted"}


@router.post("/segment/jobs", responses=raises(429))
async def create_segment_job(
    body: SegmentJobCreate, request: Request, principal: UserDep, uow: UoWDep, container: ContainerDep
) -> dict[str, Any]:
    """Evaluate audiences into a membership snapshot (asynchronously: poll the job)."""
    refs = body if isinstance(body, list) else body.segments
    job = await jobs.submit_job(
        uow,
        principal,
        [ref.segment_id for ref in refs],
        request_id=str(getattr(request.state, "request_id", "")),
        max_in_flight=container.settings.segment_jobs_max_processing,
    )
    return job_view(job, principal, await jobs.segments_of(uow, principal, [job]))


@router.get("/segment/jobs")
async def list_segment_jobs(
    principal: ReaderDep,
    uow: UoWDep,
    start: Start = None,
    limit: Limit = 100,
    status: Annotated[str | None, text_query("NEW, QUEUED, PROCESSING, … SUCCEEDED")] = None,
    sort: Sort = None,
    property_filter: Annotated[
        str | None, text_query("segments~segmentId==<id> or <path>==<value>", alias="property")
    ] = None,
) -> dict[str, Any]:
    """The sandbox's segment jobs, newest first."""
    offset = start or 0
    rows, total = await jobs.list_jobs(
        uow, principal, status=status, sort=sort, property_filter=property_filter, limit=limit, offset=offset
    )
    segments = await jobs.segments_of(uow, principal, rows)
    more = offset + len(rows) < total
    return {
        "_page": {"totalCount": total, "pageSize": len(rows)},
        "children": [job_view(row, principal, segments) for row in rows],
        "_links": {
            "next": {"href": _next(f"segment/jobs?start={offset + len(rows)}&limit={limit}", sort)}
            if more
            else {}
        },
    }


@router.post("/segment/jobs/bulk-get", status_code=207)
async def bulk_get_segment_jobs(body: BulkGet, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """Several segment jobs by id (207); ids not found are listed under ``errors``."""
    ids = [item.id for item in body.ids]
    found = await jobs.bulk_jobs(uow, principal, ids)
    segments = await jobs.segments_of(uow, principal, found.values())
    views = {key: job_view(row, principal, segments) for key, row in found.items()}
    return _multi_status(ids, views, "Segment job")


@router.get("/segment/jobs/{job_id}")
async def read_segment_job(job_id: Id, principal: ReaderDep, uow: UoWDep) -> dict[str, Any]:
    """One segment job: its status and, once evaluated, its metrics."""
    job = await jobs.get_job(uow, principal, job_id)
    return job_view(job, principal, await jobs.segments_of(uow, principal, [job]))


@router.delete("/segment/jobs/{job_id}", status_code=204)
async def delete_segment_job(job_id: Id, principal: UserDep, uow: UoWDep) -> Response:
    """Mark a job for cancellation (204); a finished job's record is deleted."""
    await jobs.cancel_job(uow, principal, job_id)
    return Response(status_code=204)


@router.post("/preview", status_code=201, response_model=PreviewQuery)
async def create_preview(
    body: PreviewCreate, response: Response, principal: UserDep, uow: UoWDep
) -> PreviewQuery:
    """Preview an unsaved expression: evaluated at once (RESULT_READY); read its profiles and estimate."""
    created = await previews.create_preview(uow, principal, body)
    response.headers["X-Location"] = previews.preview_path(created.preview_id)
    return created


@router.get("/preview/{preview_id}", response_model=PreviewResults)
async def read_preview(
    preview_id: Id, principal: ReaderDep, uow: UoWDep, offset: Offset = 0, limit: Limit = 1000
) -> PreviewResults:
    """One page of the profiles a preview's expression matches."""
    return await previews.read_preview(uow, principal, preview_id, limit=limit, offset=offset)


@router.delete("/preview/{preview_id}")
async def delete_preview(preview_id: Id, principal: UserDep, uow: UoWDep) -> dict[str, str]:
    """Delete a preview job."""
    await previews.delete_preview(uow, principal, preview_id)
    return {"message": f"Preview job {preview_id!r} has been deleted"}


@router.get("/estimate/{preview_id}", response_model=Estimate)
async def read_estimate(preview_id: Id, principal: ReaderDep, uow: UoWDep) -> Estimate:
    """The audience size of a preview's expression: an exact count (confidence 100%)."""
    return await previews.estimate(uow, principal, preview_id)


@pql_router.post("/pql:validate", response_model=PqlCheck)
async def validate_pql(body: PqlCheckRequest, principal: ReaderDep) -> PqlCheck:
    """Check an expression without saving it: valid with the paths it reads, or its first problem's place."""
    return previews.check_expression(body.expression)


def _next(path_and_query: str, sort: str | None) -> str:
    return f"{BASE_PATH}/{path_and_query}" + (f"&sort={quote(sort)}" if sort else "")


def _multi_status(ids: list[str], views: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    missing = [key for key in dict.fromkeys(ids) if key not in views]
    body: dict[str, Any] = {"results": views}
    if missing:
        body["errors"] = {
            key: {"status": 404, "title": "Resource not found", "detail": f"{kind} {key!r} was not found"}
            for key in missing
        }
    return body
