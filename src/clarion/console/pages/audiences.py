"""Audiences: the list, the PQL editor (validated and sized as you type), save, delete, "evaluate now".

Everything goes through the Segmentation API (``/data/core/ups``) and ``/v1/audiences/pql:validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, console_url, form_of, render

router = APIRouter()

UPS = "/data/core/ups"
PAGE_SIZE = 50
PROFILE_SCHEMA = {"name": "_xdm.context.profile"}


@dataclass(frozen=True, slots=True)
class Check:
    """The editor's verdict on an expression: its problem, or its estimate (both absent for no text)."""

    text: str
    problem: dict[str, Any] | None = None
    refused: ApiProblem | None = None
    matched: int | None = None
    total: int | None = None
    paths: tuple[str, ...] = ()

    @property
    def snippet(self) -> tuple[str, int] | None:
        """The line at fault and the caret's column (0-based), to point at the construct."""
        if self.problem is None:
            return None
        lines = self.text.split("\n")
        line = lines[min(int(self.problem["line"]), len(lines)) - 1]
        return line, int(self.problem["column"]) - 1


@router.get("/audiences")
async def audiences(request: Request, api: ApiDep, offset: int = 0) -> Response:
    """The sandbox's audiences, newest first."""
    listing = await api.read(f"{UPS}/segment/definitions", start=max(offset, 0), limit=PAGE_SIZE)
    return render(
        request,
        "audiences/list.html",
        title="Audiences",
        segments=listing["segments"],
        total=listing["page"]["totalCount"],
        offset=max(offset, 0),
        limit=PAGE_SIZE,
    )


@router.get("/audiences/new")
async def new_audience(request: Request, api: ApiDep) -> Response:
    """An empty editor."""
    return _editor(request, {"batch": "true"})


@router.post("/audiences/new")
async def create_audience(request: Request, api: ApiDep) -> Response:
    """Create the audience; the API's refusal is shown next to the form, which keeps what was typed."""
    form = await form_of(request)
    answer = await api.send("POST", f"{UPS}/segment/definitions", _definition(form))
    if answer.problem is not None:
        return _editor(request, form, problem=answer.problem, status=answer.problem.status)
    return _to_audience(request, answer.body["id"], "created")


@router.post("/audiences/check")
async def check_expression(request: Request, api: ApiDep) -> Response:
    """The editor's live verdict (htmx): the first problem with its place, or the member-count estimate."""
    form = await form_of(request)
    check = await _check(api, form.get("expression", ""), form.get("format", "pql/text"))
    return render(request, "audiences/check.html", check=check)


@router.get("/audiences/{segment_id}")
async def audience(request: Request, api: ApiDep, segment_id: str, saved: str = "") -> Response:
    """One audience in the editor, with its recent segment jobs and "evaluate now"."""
    segment = await api.read(f"{UPS}/segment/definitions/{segment_id}")
    jobs = await _jobs_of(api, segment_id)
    return _editor(request, _form_of(segment), segment=segment, jobs=jobs, saved=saved)


@router.post("/audiences/{segment_id}")
async def update_audience(request: Request, api: ApiDep, segment_id: str) -> Response:
    """Save the editor's fields over the audience."""
    form = await form_of(request)
    answer = await api.send("PATCH", f"{UPS}/segment/definitions/{segment_id}", _definition(form))
    if answer.problem is not None:
        segment = await api.read(f"{UPS}/segment/definitions/{segment_id}")
        jobs = await _jobs_of(api, segment_id)
        return _editor(
            request, form, segment=segment, jobs=jobs, problem=answer.problem, status=answer.problem.status
        )
    return _to_audience(request, segment_id, "saved")


@router.post("/audiences/{segment_id}/delete")
async def delete_audience(request: Request, api: ApiDep, segment_id: str) -> Response:
    """Delete the audience (the API refuses while a dataflow activates it)."""
    answer = await api.send("DELETE", f"{UPS}/segment/definitions/{segment_id}")
    if answer.problem is not None:
        segment = await api.read(f"{UPS}/segment/definitions/{segment_id}")
        jobs = await _jobs_of(api, segment_id)
        form = _form_of(segment)
        return _editor(
            request, form, segment=segment, jobs=jobs, problem=answer.problem, status=answer.problem.status
        )
    return RedirectResponse(console_url(request, "/audiences"), 303)


async def _check(api: ConsoleApi, text: str, format_: str) -> Check:
    """Validate ``text``; when valid, size it with a preview job (deleted once counted)."""
    if not text.strip():
        return Check(text)
    expression = {"type": "PQL", "format": format_, "value": text}
    verdict = await api.send("POST", "/v1/audiences/pql:validate", {"expression": expression})
    if verdict.problem is not None:
        return Check(text, refused=verdict.problem)
    if not verdict.body["valid"]:
        return Check(text, problem=verdict.body["problem"])
    paths = tuple(verdict.body["paths"])
    created = await api.send(
        "POST", f"{UPS}/preview", {"predicateExpression": text, "predicateType": format_}
    )
    if created.problem is not None:  # e.g. a read-only key: valid, but it may not run previews
        return Check(text, refused=created.problem, paths=paths)
    preview_id = created.body["previewId"]
    estimate = await api.call("GET", f"{UPS}/estimate/{preview_id}")
    await api.send("DELETE", f"{UPS}/preview/{preview_id}")
    if estimate.problem is not None:
        return Check(text, refused=estimate.problem, paths=paths)
    body = estimate.body
    return Check(text, matched=body["estimatedSize"], total=body["totalRows"], paths=paths)


async def _jobs_of(api: ConsoleApi, segment_id: str) -> list[dict[str, Any]]:
    """The audience's five latest segment jobs."""
    listing = await api.read(
        f"{UPS}/segment/jobs", limit=5, property=f"segments~segmentId=={segment_id}", sort="creationTime:desc"
    )
    jobs: list[dict[str, Any]] = listing["children"]
    return jobs


def _form_of(segment: dict[str, Any]) -> dict[str, str]:
    """The editor's fields from a segment definition."""
    return {
        "name": segment["name"],
        "description": segment["description"],
        "expression": segment["expression"]["value"],
        "format": segment["expression"]["format"],
        "batch": "true" if segment["evaluationInfo"]["batch"]["enabled"] else "",
    }


def _definition(form: dict[str, str]) -> dict[str, Any]:
    """The segment definition body from the editor's fields."""
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "expression": {"type": "PQL", "format": _format(form), "value": form.get("expression", "")},
        "schema": PROFILE_SCHEMA,
        "evaluationInfo": {"batch": {"enabled": form.get("batch") == "true"}},
    }


def _format(form: dict[str, str]) -> str:
    """The expression's format: pql/json audiences (made through the API) are edited as JSON."""
    return "pql/json" if form.get("format") == "pql/json" else "pql/text"


def _editor(
    request: Request,
    form: dict[str, str],
    *,
    segment: dict[str, Any] | None = None,
    jobs: list[dict[str, Any]] | None = None,
    problem: ApiProblem | None = None,
    saved: str = "",
    status: int = 200,
) -> Response:
    title = segment["name"] if segment else "New audience"
    return render(
        request,
        "audiences/editor.html",
        status,
        title=title,
        form=form,
        segment=segment,
        jobs=jobs or [],
        problem=problem,
        saved=saved,
    )


def _to_audience(request: Request, segment_id: str, saved: str) -> Response:
    return RedirectResponse(console_url(request, f"/audiences/{segment_id}?saved={saved}"), 303)
