"""Throttling: the organization's throttling configuration (list, create, edit, delete, deploy, undeploy)
and the live view of the configurations at work (``GET /v1/throttling/live``, polled every second)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, SessionDep, console_url, form_of, render

router = APIRouter()

CONFIGS = "/journey/orchestration/throttlingConfigs"
LIST = "/journey/orchestration/list/throttlingConfigs"
LIVE = "/v1/throttling/live"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
RULES = {
    "name": "Free text, up to 1,024 characters.",
    "urlPattern": "The endpoint's URL: http:// or https://; '*' matches any characters in the path, "
    "never in the host or port (https://api.example.org/data/*).",
    "methods": "The calls throttled: at least one HTTP method.",
    "maxThroughput": "Calls per second, from 200 to 5,000. Calls over the rate wait in a queue "
    "(up to 6 hours) and leave in arrival order.",
}


@router.get("/throttling")
async def configurations(request: Request, api: ApiDep) -> Response:
    """The organization's throttling configuration (at most one), with its deployment state."""
    answer = await api.send("POST", LIST, {})
    configs = answer.body.get("results", []) if answer.ok and isinstance(answer.body, dict) else []
    return render(
        request, "throttling/list.html", title="Throttling", configs=configs, problem=answer.problem
    )


@router.get("/throttling/new")
async def new_configuration(request: Request, _: SessionDep) -> Response:
    """An empty configuration form."""
    return _form(request, {"methods": ["POST"], "maxThroughput": 200})


@router.post("/throttling/new")
async def create_configuration(request: Request, api: ApiDep) -> Response:
    """Create the configuration; it still needs a deploy to throttle anything."""
    values = _values(await form_of(request))
    answer = await api.send("POST", CONFIGS, values)
    if answer.problem:
        return _form(request, values, problem=answer.problem, status=answer.problem.status)
    return RedirectResponse(console_url(request, f"/throttling/{answer.body['uid']}"), 303)


@router.get("/throttling/live")
async def live(request: Request, api: ApiDep) -> Response:
    """The live view: each configuration's rate against its maximum and its queue, every second."""
    return render(request, "throttling/live.html", title="Throttling, live", live=await api.read(LIVE))


@router.get("/throttling/live/panel")
async def live_panel(request: Request, api: ApiDep) -> Response:
    """The live numbers alone (the fragment the live view polls); a refusal shows in it, polling goes on."""
    answer = await api.call("GET", LIVE)
    live = answer.body if answer.ok else {"lanes": [], "measuredAt": ""}
    return render(request, "throttling/live_panel.html", live=live, problem=answer.problem)


@router.get("/throttling/{uid}")
async def configuration(request: Request, uid: str, api: ApiDep) -> Response:
    """One configuration: its values (editable), whether it can be deployed, and its deployment."""
    return await _detail(request, api, uid)


@router.post("/throttling/{uid}")
async def update_configuration(request: Request, uid: str, api: ApiDep) -> Response:
    """Save every field again (a deployed configuration takes the new values at once)."""
    values = _values(await form_of(request))
    answer = await api.send("PUT", f"{CONFIGS}/{uid}", values)
    if answer.problem:
        return await _detail(request, api, uid, values=values, problem=answer.problem)
    return RedirectResponse(console_url(request, f"/throttling/{uid}?saved=1"), 303)


@router.post("/throttling/{uid}/deploy")
async def deploy(request: Request, uid: str, api: ApiDep) -> Response:
    """Deploy: calls to the URL pattern are paced from now on."""
    return await _change(
        request, api, uid, "POST", f"{CONFIGS}/{uid}/deploy", f"/throttling/{uid}?done=deploy"
    )


@router.post("/throttling/{uid}/undeploy")
async def undeploy(request: Request, uid: str, api: ApiDep) -> Response:
    """Undeploy: new calls are no longer throttled; those already queued still leave at the rate."""
    return await _change(
        request, api, uid, "POST", f"{CONFIGS}/{uid}/undeploy", f"/throttling/{uid}?done=undeploy"
    )


@router.post("/throttling/{uid}/delete")
async def delete(request: Request, uid: str, api: ApiDep) -> Response:
    """Delete (a deployed configuration is undeployed first: ``forceDelete``)."""
    path = f"{CONFIGS}/{uid}?forceDelete=true"
    return await _change(request, api, uid, "DELETE", path, "/throttling")


async def _change(request: Request, api: ConsoleApi, uid: str, method: str, path: str, then: str) -> Response:
    """Send one change; back to ``then``, or the configuration with the API's refusal."""
    answer = await api.send(method, path)
    if answer.ok:
        return RedirectResponse(console_url(request, then), 303)
    return await _detail(request, api, uid, problem=answer.problem)


async def _detail(
    request: Request,
    api: ConsoleApi,
    uid: str,
    *,
    values: dict[str, Any] | None = None,
    problem: ApiProblem | None = None,
) -> Response:
    config = (await api.read(f"{CONFIGS}/{uid}"))["result"]
    verdict = (await api.read(f"{CONFIGS}/{uid}/canDeploy"))["canDeploy"]
    return render(
        request,
        "throttling/detail.html",
        400 if problem else 200,
        title=config.get("name") or "Throttling configuration",
        config=config,
        values=values or config,
        verdict=verdict,
        problem=problem,
        rules=RULES,
        methods=METHODS,
        done=request.query_params.get("done") or ("saved" if request.query_params.get("saved") else ""),
    )


def _form(
    request: Request, values: dict[str, Any], *, problem: ApiProblem | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "throttling/new.html",
        status,
        title="New throttling configuration",
        values=values,
        problem=problem,
        rules=RULES,
        methods=METHODS,
    )


def _values(form: dict[str, str]) -> dict[str, Any]:
    """The API body of the configuration form (a rate that is not a number goes as text: the API names it)."""
    rate = form.get("maxThroughput", "").strip()
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "urlPattern": form.get("urlPattern", "").strip(),
        "methods": [method for method in METHODS if f"method-{method}" in form],
        "maxThroughput": int(rate) if rate.isdigit() else rate,
    }
