"""Dataflow runs: the list (filters by dataflow and status, a chart of records per run) and one run with its
metrics and files. Everything is read from the Flow Service ``/runs`` API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from clarion.console.api import ConsoleApi
from clarion.console.web import ApiDep, render

router = APIRouter()

FLOWSERVICE = "/data/foundation/flowservice"
PAGE_SIZE = 20
STATUSES = ("waiting", "processing", "success", "failed")
ACTIVE = frozenset(STATUSES[:2])
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True, slots=True)
class RunFile:
    """One file a run wrote."""

    name: str
    audience: str
    records: int
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the console shows of a run: Adobe's run metrics, read once."""

    id: str
    flow_id: str
    status: str
    audiences: tuple[str, ...]
    records: int
    files: tuple[RunFile, ...]
    bytes: int
    started: datetime | None
    completed: datetime | None
    created: datetime | None
    errors: tuple[str, ...]

    @property
    def duration(self) -> str:
        """``12.3 s`` once the run ended, else empty."""
        if self.started is None or self.completed is None:
            return ""
        return f"{(self.completed - self.started).total_seconds():.1f} s"

    @property
    def label(self) -> str:
        """A short label for a chart axis: the run's start (or creation) time."""
        moment = self.started or self.created
        return moment.strftime("%m-%d %H:%M:%S") if moment else self.id[:8]


def _moment(epoch_ms: Any) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if isinstance(epoch_ms, int | float) else None


def when(epoch_ms: Any) -> str:
    """An API time (epoch milliseconds) as ISO 8601 UTC for the ``time`` macro; empty when absent."""
    moment = _moment(epoch_ms)
    return moment.isoformat() if moment else ""


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def summary_of(run: dict[str, Any]) -> RunSummary:
    """Read the contract's run JSON (§2.3) into a ``RunSummary``."""
    metrics = run.get("metrics") or {}
    status = metrics.get("statusSummary") or {}
    records = metrics.get("recordSummary") or {}
    duration = metrics.get("durationSummary") or {}
    files = tuple(
        RunFile(
            name=str(item.get("name", "")),
            audience=str(item.get("segmentId", item.get("audience", ""))),
            records=_number(item.get("records")),
            bytes=_number(item.get("bytes")),
            sha256=str(item.get("sha256", "")),
        )
        for item in (metrics.get("fileSummary") or {}).get("files", [])
    )
    audiences = tuple(
        str(entity.get("id", "")).removeprefix("segment:")
        for source in records.get("sourceSummaries", [])
        for entity in source.get("entitySummaries", [])
    )
    return RunSummary(
        id=str(run.get("id", "")),
        flow_id=str(run.get("flowId", "")),
        status=str(status.get("status", "")),
        audiences=audiences,
        records=_number(records.get("outputRecordCount")),
        files=files,
        bytes=_number((metrics.get("sizeSummary") or {}).get("outputBytes")),
        started=_moment(duration.get("startedAtUTC")),
        completed=_moment(duration.get("completedAtUTC")),
        created=_moment(run.get("createdAt")),
        errors=tuple(str(error.get("message", "")) for error in status.get("errors") or []),
    )


def records_chart(runs: list[RunSummary]) -> dict[str, Any]:
    """The ``chart`` macro's data: records per run, oldest first."""
    ordered = list(reversed(runs))
    return {
        "x": [run.label for run in ordered],
        "series": [{"label": "Records", "values": [run.records for run in ordered]}],
    }


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs and the token of the next one."""

    runs: list[RunSummary]
    next_token: str


async def read_runs(
    api: ConsoleApi, *, flow_id: str = "", status: str = "", token: str = "", limit: int = PAGE_SIZE
) -> RunPage:
    """A page of runs, newest first, filtered as the Flow Service API filters them."""
    filters = [
        f"flowId=={flow_id}" if flow_id else "",
        f"metrics.statusSummary.status=={status}" if status else "",
    ]
    params: dict[str, Any] = {"limit": limit, "property": [rule for rule in filters if rule]}
    if token:
        params["continuationToken"] = token
    body = await api.read(f"{FLOWSERVICE}/runs", **params)
    return RunPage([summary_of(item) for item in body.get("items", [])], next_token_of(body))


def next_token_of(body: dict[str, Any]) -> str:
    """The ``continuationToken`` of a Flow Service list's ``_links.next`` (empty on the last page)."""
    href = str(((body.get("_links") or {}).get("next") or {}).get("href", ""))
    for piece in href.partition("?")[2].split("&"):
        name, _, value = piece.partition("=")
        if name == "continuationToken":
            return value
    return ""


async def flow_names(api: ConsoleApi) -> dict[str, str]:
    """Dataflow names by id (the first 100, enough to label runs and fill the filter)."""
    body = await api.read(f"{FLOWSERVICE}/flows", limit=100)
    return {item["id"]: item.get("name", item["id"]) for item in body.get("items", [])}


async def audience_names(api: ConsoleApi) -> dict[str, str]:
    """Audience names by id (the sandbox's first 100), to label runs and files."""
    body = await api.read("/data/core/ups/segment/definitions", limit=100)
    return {item["id"]: item.get("name") or item["id"] for item in body.get("segments", [])}


@router.get("/runs")
async def runs_page(
    request: Request, api: ApiDep, flow: Text = "", status: Text = "", page: Text = ""
) -> Response:
    """Runs of every dataflow (or one), newest first, with their metrics and a chart of records per run."""
    if status not in STATUSES:
        status = ""
    found = await read_runs(api, flow_id=flow, status=status, token=page)
    return render(
        request,
        "activation/runs.html",
        title="Runs",
        runs=found.runs,
        next_token=found.next_token,
        chart=records_chart(found.runs),
        flows=await flow_names(api),
        audiences=await audience_names(api),
        flow=flow,
        status=status,
        statuses=STATUSES,
    )


@router.get("/runs/{run_id}")
async def run_page(request: Request, api: ApiDep, run_id: str) -> Response:
    """One run: status, records, size, duration, errors and the files it wrote."""
    body = await api.read(f"{FLOWSERVICE}/runs/{run_id}")
    run = summary_of(body["items"][0])
    flow = await api.read(f"{FLOWSERVICE}/flows/{run.flow_id}") if run.flow_id else None
    flow_name = (flow or {}).get("items", [{}])[0].get("name", run.flow_id)
    return render(
        request,
        "activation/run.html",
        title=f"Run {run.id[:8]}",
        run=run,
        flow_name=flow_name,
        audiences=await audience_names(api),
    )
