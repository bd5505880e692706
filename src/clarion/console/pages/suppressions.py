"""The suppression list (``/v1/suppressions``): search by address prefix, filter by reason, cursor pages,
add an address, remove one (confirmed), and import a CSV file (sent whole to ``POST
/v1/suppressions/import``, which parses it as ``clarion suppressions import`` does)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, console_url, current_session, form_of, render

router = APIRouter(prefix="/suppressions", dependencies=[Depends(current_session)])

PAGE_SIZE = 50
REASONS = ("hardBounce", "softBounce", "complaint", "unsubscribe", "manual")
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
"""The API's import limit; larger files belong to ``clarion suppressions import`` (streamed, batched)."""


@router.get("")
async def list_suppressions(
    request: Request,
    api: ApiDep,
    prefix: str = "",
    reason: str = "",
    cursor: str = "",
) -> Response:
    """One page of the list, newest first."""
    return await _page(request, api, prefix=prefix, reason=reason, cursor=cursor)


async def _page(
    request: Request,
    api: ConsoleApi,
    *,
    prefix: str = "",
    reason: str = "",
    cursor: str = "",
    status: int = 200,
    problem: ApiProblem | None = None,
    **extra: Any,
) -> Response:
    params = {
        "limit": PAGE_SIZE,
        "prefix": prefix or None,
        "reason": reason or None,
        "cursor": cursor or None,
    }
    answer = await api.call("GET", "/v1/suppressions", params={k: v for k, v in params.items() if v})
    page = answer.body if answer.problem is None else {"items": [], "next": None}
    return render(
        request,
        "suppressions/list.html",
        status,
        title="Suppressions",
        page=page,
        prefix=prefix,
        reason=reason,
        cursor=cursor,
        reasons=REASONS,
        problem=problem or answer.problem,
        **extra,
    )


@router.post("")
async def add_suppression(request: Request, api: ApiDep) -> Response:
    """Add one address (reason ``manual`` unless chosen)."""
    form = await form_of(request)
    entry = {
        "address": form.get("address", ""),
        "reason": form.get("reason") or "manual",
        "detail": form.get("detail", ""),
    }
    answer = await api.send("POST", "/v1/suppressions", {"entries": [entry]})
    if answer.problem is not None:
        return await _page(request, api, status=400, problem=answer.problem, form=form)
    return _back(request, f"{entry['address'].strip().lower()} added")


@router.post("/remove")
async def remove_suppression(request: Request, api: ApiDep) -> Response:
    """Take an address off the list (the entries of one reason when the form names it)."""
    form = await form_of(request)
    address = form.get("address", "")
    params = {"reason": form["reason"]} if form.get("reason") else {}
    answer = await api.send("DELETE", "/v1/suppressions/" + quote(address, safe="@"), **params)
    if answer.problem is not None:
        return await _page(request, api, status=answer.problem.status, problem=answer.problem)
    return _back(request, f"{address} removed")


@router.post("/import")
async def import_file(request: Request, api: ApiDep) -> Response:
    """Send an uploaded CSV file to the API's import; show its counts and the refused rows by line."""
    form = await request.form(max_part_size=MAX_UPLOAD_BYTES + 1)
    upload = form.get("file")
    reason = str(form.get("reason") or "manual")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problem = ApiProblem(400, "Choose a CSV file.", {}, field="file")
        return await _page(request, api, status=400, problem=problem)
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        message = f"The file is over {MAX_UPLOAD_BYTES // 2**20} MB: use clarion suppressions import instead."
        return await _page(request, api, status=413, problem=ApiProblem(413, message, {}, field="file"))
    text = data.decode("utf-8-sig", errors="replace")
    answer = await api.send("POST", "/v1/suppressions/import", {"csv": text, "reason": reason})
    if answer.problem is not None:
        return await _page(request, api, status=answer.problem.status, problem=answer.problem)
    return await _page(request, api, report=answer.body, filename=upload.filename)


def _back(request: Request, done: str) -> Response:
    return RedirectResponse(console_url(request, "/suppressions?done=" + quote(done)), status_code=303)
