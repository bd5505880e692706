"""Capping: the sandbox's endpoint (capping) configurations, where calls over a rating are refused, not
queued (list, create, edit, delete, deploy, undeploy). Listed under Throttling in the navigation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, SessionDep, console_url, form_of, render

router = APIRouter()

CONFIGS = "/journey/orchestration/endpointConfigs"
LIST = "/journey/orchestration/list/endpointConfigs"
HOME = "/throttling/capping"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTION")
SERVICES = (("action", "Custom actions"), ("dataSource", "Data sources"))
RULES = {
    "url": "The endpoint: http:// or https://; '*' allowed in the path, never in the host or port.",
    "methods": "The calls capped: at least one method (OPTION is how the API spells OPTIONS).",
    "maxCallsCount": "Calls allowed per period (1 or more); calls over it are refused, not queued.",
    "periodInMs": "The period, in milliseconds (1 or more).",
    "maxHttpConnections": "Open connections at once, per process; empty: no limit.",
}


@router.get(HOME)
async def configurations(request: Request, api: ApiDep) -> Response:
    """The sandbox's capping configurations."""
    answer = await api.send("POST", LIST, {})
    configs = answer.body.get("results", []) if answer.ok and isinstance(answer.body, dict) else []
    return render(request, "capping/list.html", title="Capping", configs=configs, problem=answer.problem)


@router.get(f"{HOME}/new")
async def new_configuration(request: Request, _: SessionDep) -> Response:
    """An empty capping form."""
    return _form(request, {"methods": ["POST"], "service": "action", "periodInMs": 1000})


@router.post(f"{HOME}/new")
async def create_configuration(request: Request, api: ApiDep) -> Response:
    """Create the configuration (a draft until deployed)."""
    form = await form_of(request)
    answer = await api.send("POST", CONFIGS, capping_body(form))
    if answer.problem:
        return _form(request, _flat(capping_body(form)), problem=answer.problem, status=answer.problem.status)
    return RedirectResponse(console_url(request, f"{HOME}/{answer.body['uid']}"), 303)


@router.get(HOME + "/{uid}")
async def configuration(request: Request, uid: str, api: ApiDep) -> Response:
    """One capping configuration: values (editable), whether it can be deployed, its deployment."""
    return await _detail(request, api, uid)


@router.post(HOME + "/{uid}")
async def update_configuration(request: Request, uid: str, api: ApiDep) -> Response:
    """Save every field again."""
    body = capping_body(await form_of(request))
    answer = await api.send("PUT", f"{CONFIGS}/{uid}", body)
    if answer.problem:
        return await _detail(request, api, uid, values=_flat(body), problem=answer.problem)
    return RedirectResponse(console_url(request, f"{HOME}/{uid}?done=saved"), 303)


@router.post(HOME + "/{uid}/deploy")
async def deploy(request: Request, uid: str, api: ApiDep) -> Response:
    """Deploy: calls over the rating are refused from now on."""
    return await _change(request, api, uid, "POST", f"{CONFIGS}/{uid}/deploy", f"{HOME}/{uid}?done=deploy")


@router.post(HOME + "/{uid}/undeploy")
async def undeploy(request: Request, uid: str, api: ApiDep) -> Response:
    """Undeploy: calls are no longer capped."""
    return await _change(
        request, api, uid, "POST", f"{CONFIGS}/{uid}/undeploy", f"{HOME}/{uid}?done=undeploy"
    )


@router.post(HOME + "/{uid}/delete")
async def delete(request: Request, uid: str, api: ApiDep) -> Response:
    """Delete (a deployed configuration is undeployed first)."""
    return await _change(request, api, uid, "DELETE", f"{CONFIGS}/{uid}?forceDelete=true", HOME)


async def _change(request: Request, api: ConsoleApi, uid: str, method: str, path: str, then: str) -> Response:
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
        "capping/detail.html",
        400 if problem else 200,
        title="Capping configuration",
        config=config,
        values=values or _flat(config),
        verdict=verdict,
        problem=problem,
        done=request.query_params.get("done", ""),
        **_choices(),
    )


def _form(
    request: Request, values: dict[str, Any], *, problem: ApiProblem | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "capping/new.html",
        status,
        title="New capping configuration",
        values=values,
        problem=problem,
        **_choices(),
    )


def _choices() -> dict[str, Any]:
    return {"rules": RULES, "methods": METHODS, "services": SERVICES}


def capping_body(form: dict[str, str]) -> dict[str, Any]:
    """The API body of the capping form (numbers that are not numbers go as text: the API names them)."""
    service = form.get("service", "action")
    settings: dict[str, Any] = {
        "rating": {
            "maxCallsCount": _number(form.get("maxCallsCount", "")),
            "periodInMs": _number(form.get("periodInMs", "")),
        }
    }
    if form.get("maxHttpConnections", "").strip():
        settings["maxHttpConnections"] = _number(form["maxHttpConnections"])
    return {
        "url": form.get("url", "").strip(),
        "methods": [method for method in METHODS if f"method-{method}" in form],
        "services": {service: settings},
    }


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """Form values of a configuration as the API shows it (one service)."""
    services = config.get("services") or {"action": {}}
    service, settings = next(iter(services.items()))
    rating = settings.get("rating") or {}
    return {
        "url": config.get("url", ""),
        "methods": config.get("methods") or [],
        "service": service,
        "maxCallsCount": rating.get("maxCallsCount", ""),
        "periodInMs": rating.get("periodInMs", ""),
        "maxHttpConnections": settings.get("maxHttpConnections", ""),
    }


def _number(text: str) -> Any:
    text = text.strip()
    return int(text) if text.isdigit() else text
