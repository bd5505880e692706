"""Dataflows: the Profile store to one destination, with audiences and their schedules — Adobe's "monitor
dataflows" view (each flow's last run), a create form, one dataflow with its runs and a chart of records
per run, enable/disable, and "export now" (ad-hoc activation) with the API's refusals in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.pages.runs import (
    ACTIVE,
    FLOWSERVICE,
    PAGE_SIZE,
    RunPage,
    audience_names,
    next_token_of,
    read_runs,
    records_chart,
)
from clarion.console.web import ApiDep, console_url, form_of, is_htmx, render

router = APIRouter()

Text = Annotated[str, Query(max_length=200)]
ADHOC = "/data/core/activation/disflowprovider/adhocrun"
ADHOC_V2 = "application/vnd.adobe.adhoc.activation+json; version=2"
PROFILE_STORE_SPEC = "8a9c3494-9708-43d7-ae3f-cda01e5030e1"
FREQUENCIES = ("ONCE", "DAILY", "EVERY_3_HOURS", "EVERY_6_HOURS", "EVERY_8_HOURS", "EVERY_12_HOURS")
HOURLY = frozenset(FREQUENCIES[2:])
DEFAULT_ATTRIBUTES = "identityMap.email\nperson.name.firstName\nperson.name.lastName"
DEFAULT_TEMPLATE = "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
SELECTOR_FIELDS = {
    "schedule.frequency": "frequency",
    "schedule.startDate": "startDate",
    "schedule.endDate": "endDate",
    "schedule.startTime": "startTime",
    "filenameTemplate": "filenameTemplate",
    "value.id": "audiences",
}
"""Where the API's field paths of a segment selector land on the create form."""


@dataclass(frozen=True, slots=True)
class Audience:
    """An audience mapped to a dataflow, with its schedule."""

    id: str
    name: str
    frequency: str
    start: str
    end: str
    time: str
    mode: str
    filename_template: str
    path: str
    """Its JSON Patch path in the flow (``/transformations/0/params/segmentSelectors/selectors/2``)."""


def audiences_of(flow: dict[str, Any]) -> list[Audience]:
    """The segment selectors of a dataflow, in order."""
    found: list[Audience] = []
    for at, transformation in enumerate(flow.get("transformations", [])):
        selectors = ((transformation.get("params") or {}).get("segmentSelectors") or {}).get("selectors", [])
        for index, selector in enumerate(selectors):
            value = selector.get("value") or {}
            schedule = value.get("schedule") or {}
            found.append(
                Audience(
                    id=str(value.get("id", "")),
                    name=str(value.get("name", "")),
                    frequency=str(schedule.get("frequency", "")),
                    start=str(schedule.get("startDate", "")),
                    end=str(schedule.get("endDate", "")),
                    time=str(schedule.get("startTime", "")),
                    mode=str(value.get("exportMode", "")),
                    filename_template=str(value.get("filenameTemplate", "")),
                    path=f"/transformations/{at}/params/segmentSelectors/selectors/{index}",
                )
            )
    return found


def last_run_of(flow: dict[str, Any]) -> tuple[str, datetime | None]:
    """The state and start of a dataflow's last run (Adobe's ``lastRunDetails``), or ("", None)."""
    details = flow.get("lastRunDetails") or {}
    started = details.get("startedAtUTC")
    moment = datetime.fromtimestamp(started / 1000, UTC) if isinstance(started, int | float) else None
    return str(details.get("state", "")), moment


async def target_names(api: ConsoleApi) -> dict[str, str]:
    """Destination names by target connection id (the first 100)."""
    body = await api.read(f"{FLOWSERVICE}/targetConnections", limit=100)
    return {item["id"]: item.get("name", item["id"]) for item in body.get("items", [])}


async def audience_choices(api: ConsoleApi) -> list[tuple[str, str]]:
    """(id, name) of the sandbox's audiences (the first 100)."""
    return list((await audience_names(api)).items())


@router.get("/dataflows")
async def dataflows_page(request: Request, api: ApiDep, state: Text = "", page: Text = "") -> Response:
    """Every dataflow with its destination, audiences, state and last run."""
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if state in ("enabled", "disabled"):
        params["property"] = f"state=={state}"
    if page:
        params["continuationToken"] = page
    body = await api.read(f"{FLOWSERVICE}/flows", **params)
    return render(
        request,
        "activation/dataflows.html",
        title="Dataflows",
        flows=body.get("items", []),
        next_token=next_token_of(body),
        targets=await target_names(api),
        state=state,
        audiences_of=audiences_of,
        last_run_of=last_run_of,
    )


async def _new_form(
    request: Request, api: ConsoleApi, form: dict[str, Any], problem: ApiProblem | None = None
) -> Response:
    status = 200 if problem is None else (problem.status if 400 <= problem.status < 500 else 400)
    return render(
        request,
        "activation/dataflow_new.html",
        status,
        title="New dataflow",
        targets=await target_names(api),
        audiences=await audience_choices(api),
        frequencies=FREQUENCIES,
        form=form,
        problem=problem,
        problem_field=form_field_of(problem),
    )


def form_field_of(problem: ApiProblem | None) -> str:
    """The create form's input an API refusal is about (its field path is the flow's JSON path)."""
    path = (problem.field or "") if problem else ""
    for suffix, name in SELECTOR_FIELDS.items():
        if path.endswith(suffix):
            return name
    if "profileMapping" in path or "mandatoryFields" in path:
        return "attributes"
    return {"name": "name", "targetConnectionIds": "target"}.get(path, "")


@router.get("/dataflows/new")
async def new_dataflow_page(request: Request, api: ApiDep, target: Text = "") -> Response:
    """The create form: name, destination, audiences, schedule, exported attributes."""
    defaults = {"target": target, "attributes": DEFAULT_ATTRIBUTES, "audiences": [], **schedule_defaults()}
    return await _new_form(request, api, defaults)


def schedule_defaults() -> dict[str, str]:
    """A daily full export from today at 00:00 UTC (so "export now" works at once)."""
    today = datetime.now(UTC).date().isoformat()
    return {
        "frequency": "DAILY",
        "startDate": today,
        "startTime": "00:00",
        "filenameTemplate": DEFAULT_TEMPLATE,
    }


def selector_of(form: dict[str, Any], audience: str) -> dict[str, Any]:
    """A segment selector of ``audience`` with the form's schedule: full files daily or once, the first
    file full then the changes every few hours (Adobe's modes for those frequencies)."""
    frequency = form.get("frequency", "")
    schedule = {"frequency": frequency, "startDate": form.get("startDate", "")}
    if form.get("endDate"):
        schedule["endDate"] = form["endDate"]
    if frequency in HOURLY:
        mode = "FIRST_FULL_THEN_INCREMENTAL"
    else:
        mode = "DAILY_FULL_EXPORT"
        schedule["triggerType"] = "SCHEDULED"
    if form.get("startTime"):
        schedule["startTime"] = form["startTime"]
    template = form.get("filenameTemplate") or DEFAULT_TEMPLATE
    value = {"id": audience, "filenameTemplate": template, "exportMode": mode, "schedule": schedule}
    return {"type": "PLATFORM_SEGMENT", "value": value}


def flow_body(form: dict[str, Any], source_id: str, flow_spec_id: str) -> dict[str, Any]:
    """The ``POST /flows`` body of the create form: one selector per audience, the same schedule each."""
    selectors = [selector_of(form, audience) for audience in form.get("audiences", [])]
    attributes = [line.strip() for line in str(form.get("attributes", "")).splitlines() if line.strip()]
    return {
        "name": form.get("name", ""),
        "flowSpec": {"id": flow_spec_id, "version": "1.0"},
        "sourceConnectionIds": [source_id],
        "targetConnectionIds": [form.get("target", "")],
        "transformations": [
            {
                "name": "GeneralTransform",
                "params": {
                    "mandatoryFields": [],
                    "primaryFields": [],
                    "profileMapping": {"mappings": [{"source": path} for path in attributes]},
                    "segmentSelectors": {"selectors": selectors},
                },
            }
        ],
    }


async def _flow_spec_of(api: ConsoleApi, target_id: str) -> str:
    """The flow spec for a destination: the one whose target connection specs include its spec."""
    answer = await api.call("GET", f"{FLOWSERVICE}/targetConnections/{target_id}")
    if answer.problem is not None:
        return ""
    spec_id = answer.body["items"][0]["connectionSpec"]["id"]
    specs = await api.read(f"{FLOWSERVICE}/flowSpecs", property=f"targetConnectionSpecIds=={spec_id}")
    items = specs.get("items", [])
    return str(items[0]["id"]) if items else ""


@router.post("/dataflows/new")
async def create_dataflow(request: Request, api: ApiDep) -> Response:
    """Create the Profile store source connection, then the dataflow (the source is deleted again if the
    dataflow is refused, so nothing half-made stays)."""
    fields = await form_of(request)
    form: dict[str, Any] = {**fields, "audiences": (await request.form()).getlist("audiences")}
    form["name"] = str(form.get("name", "")).strip()
    source_body = {
        "name": f"Profiles for {form['name'] or 'a dataflow'}",
        "connectionSpec": {"id": PROFILE_STORE_SPEC, "version": "1.0"},
    }
    source = await api.send("POST", f"{FLOWSERVICE}/sourceConnections", source_body)
    if source.problem is not None:
        return await _new_form(request, api, form, source.problem)
    flow_spec = await _flow_spec_of(api, str(form.get("target", "")))
    answer = await api.send("POST", f"{FLOWSERVICE}/flows", flow_body(form, source.body["id"], flow_spec))
    if answer.problem is not None:
        await api.send("DELETE", f"{FLOWSERVICE}/sourceConnections/{source.body['id']}")
        return await _new_form(request, api, form, answer.problem)
    return RedirectResponse(console_url(request, f"/dataflows/{answer.body['id']}"), status_code=303)


async def _dataflow(request: Request, api: ConsoleApi, flow_id: str, **context: Any) -> Response:
    flow = (await api.read(f"{FLOWSERVICE}/flows/{flow_id}"))["items"][0]
    runs = await read_runs(api, flow_id=flow_id)
    target_id = (flow.get("targetConnectionIds") or [""])[0]
    targets = await target_names(api)
    mapped = {audience.id for audience in audiences_of(flow)}
    context.setdefault("add", schedule_defaults())
    return render(
        request,
        "activation/dataflow.html",
        context.pop("status_code", 200),
        title=flow["name"],
        flow=flow,
        audiences=audiences_of(flow),
        target_id=target_id,
        target_name=targets.get(target_id, target_id),
        **_runs_context(runs),
        unmapped=[choice for choice in await audience_choices(api) if choice[0] not in mapped],
        frequencies=FREQUENCIES,
        **context,
    )


def _runs_context(runs: RunPage) -> dict[str, Any]:
    """What the runs section of a dataflow shows: the latest runs, their chart, whether one is running."""
    return {
        "runs": runs.runs,
        "more_runs": bool(runs.next_token),
        "chart": records_chart(runs.runs),
        "active": any(run.status in ACTIVE for run in runs.runs),
    }


@router.get("/dataflows/{flow_id}/runs")
async def dataflow_runs(request: Request, api: ApiDep, flow_id: str) -> Response:
    """The runs section alone (htmx refreshes it after "export now" and while a run is going on)."""
    runs = await read_runs(api, flow_id=flow_id)
    return render(request, "activation/_flow_runs.html", flow={"id": flow_id}, **_runs_context(runs))


@router.get("/dataflows/{flow_id}")
async def dataflow_page(request: Request, api: ApiDep, flow_id: str) -> Response:
    """One dataflow: destination, audiences and schedules, export now, its runs with a chart."""
    return await _dataflow(request, api, flow_id)


@router.post("/dataflows/{flow_id}/state")
async def change_state(request: Request, api: ApiDep, flow_id: str) -> Response:
    """Enable or disable a dataflow (a disabled one is neither scheduled nor exported ad hoc)."""
    form = await form_of(request)
    op = "enable" if form.get("op") == "enable" else "disable"
    answer = await api.call(
        "POST",
        f"{FLOWSERVICE}/flows/{flow_id}/action",
        params={"op": op},
        headers={"If-Match": form.get("etag", "")},
    )
    if answer.problem is not None:
        return await _dataflow(request, api, flow_id, status_code=answer.status, state_problem=answer.problem)
    return RedirectResponse(console_url(request, f"/dataflows/{flow_id}"), status_code=303)


@router.post("/dataflows/{flow_id}/export")
async def export_now(request: Request, api: ApiDep, flow_id: str) -> Response:
    """Ad-hoc activation of the chosen audiences; answers the "export now" panel (htmx) or the page."""
    audiences = [str(item) for item in (await request.form()).getlist("audiences")]
    answer = await api.call(
        "POST",
        ADHOC,
        json_body={"activationInfo": {flow_id: audiences}},
        headers={"Accept": ADHOC_V2},
    )
    orders = [] if answer.problem is not None else answer.body.get("order", [])
    started = [str(item.get("statusURL", "")).rsplit("/", 1)[-1] for item in orders]
    if is_htmx(request):
        flow = (await api.read(f"{FLOWSERVICE}/flows/{flow_id}"))["items"][0]
        panel = render(
            request,
            "activation/_export_now.html",
            flow=flow,
            audiences=audiences_of(flow),
            chosen=audiences,
            export_problem=answer.problem,
            started=started,
        )
        if started:
            panel.headers["HX-Trigger"] = "runs-changed"  # the runs section reloads and follows the run
        return panel
    return await _dataflow(
        request,
        api,
        flow_id,
        status_code=answer.status if answer.problem is not None else 200,
        export_problem=answer.problem,
        chosen=audiences,
        started=started,
    )


@router.post("/dataflows/{flow_id}/delete")
async def delete_dataflow(request: Request, api: ApiDep, flow_id: str) -> Response:
    """Delete a dataflow (its runs go with it), then its Profile store source connection."""
    flow = (await api.read(f"{FLOWSERVICE}/flows/{flow_id}"))["items"][0]
    answer = await api.send("DELETE", f"{FLOWSERVICE}/flows/{flow_id}")
    if answer.problem is not None:
        status = answer.status if 400 <= answer.status < 500 else 400
        return await _dataflow(request, api, flow_id, status_code=status, state_problem=answer.problem)
    for source_id in flow.get("sourceConnectionIds", []):
        # Refused while another dataflow reads from it (made by the API, not this console): it stays.
        await api.send("DELETE", f"{FLOWSERVICE}/sourceConnections/{source_id}")
    return RedirectResponse(console_url(request, "/dataflows"), status_code=303)


@router.post("/dataflows/{flow_id}/audiences")
async def add_audience(request: Request, api: ApiDep, flow_id: str) -> Response:
    """Map one more audience (JSON Patch ``add`` under the etag the page was read with)."""
    form = await form_of(request)
    operations = [
        {
            "op": "add",
            "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": selector_of(form, form.get("audience", "")),
        }
    ]
    return await _patch_flow(request, api, flow_id, form, operations)


@router.post("/dataflows/{flow_id}/audiences/remove")
async def remove_audience(request: Request, api: ApiDep, flow_id: str) -> Response:
    """Unmap an audience (JSON Patch ``remove`` of its selector, under the etag the page was read with)."""
    form = await form_of(request)
    return await _patch_flow(request, api, flow_id, form, [{"op": "remove", "path": form.get("path", "")}])


async def _patch_flow(
    request: Request, api: ConsoleApi, flow_id: str, form: dict[str, str], operations: list[dict[str, Any]]
) -> Response:
    path = f"{FLOWSERVICE}/flows/{flow_id}"
    answer = await api.call("PATCH", path, json_body=operations, headers={"If-Match": form.get("etag", "")})
    if answer.problem is not None:
        status = answer.status if 400 <= answer.status < 500 else 400
        return await _dataflow(
            request, api, flow_id, status_code=status, audience_problem=answer.problem, add=form
        )
    return RedirectResponse(console_url(request, f"/dataflows/{flow_id}"), status_code=303)
