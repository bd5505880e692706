"""Campaigns: list with status filters, the editor with its live preview, activate / stop, "copy as curl" for
the execution call, and per-campaign statistics (``/v1/campaigns…``)."""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from clarion.console.api import ApiProblem
from clarion.console.sessions import Credentials
from clarion.console.web import (
    ApiDep,
    SessionDep,
    console_url,
    current_session,
    form_of,
    redirect,
    render,
)
from clarion.kit.params import Id

router = APIRouter(prefix="/campaigns", dependencies=[Depends(current_session)])  # every page: signed in

STATUSES = ("Draft", "Scheduled", "Live", "Stopped", "Completed")
CHANNELS = ("email", "sms", "push")
CATEGORIES = ("Transactional", "Marketing")
CONTENT_FIELDS = {"email": ("subject", "html", "text"), "sms": ("body",), "push": ("title", "body")}
REQUIRED_CONTENT = frozenset({"subject", "body", "title"})
"""Content fields sent even when empty, so the API names them; optional ones are left out."""
KEPT_FIELDS = ("enableWebhooks", "webhookUrl", "webhookEvents", "throttleRatePerSec", "customActionId")
"""Campaign fields set through the API that the editor does not show: saved unchanged."""
PAGE_SIZE = 50
MAX_OPTIONS = 500
"""Choices a select offers (the API's largest page): more pools or configurations than that are not listed."""
STATS_HOURS = 24
STATS_SERIES = ("sent", "failed", "accepted", "expired", "bounced", "suppressed")
ENGAGEMENT_SERIES = (
    ("opened", "Opens", "#1971c2"),
    ("clicked", "Clicks", "#2b8a3e"),
    ("bounced", "Bounces", "#d9480f"),
    ("complained", "Complaints", "#c2255c"),
    ("unsubscribed", "Unsubscribes", "#868e96"),
)
TOKEN_PLACEHOLDER = "$CLARION_TOKEN"  # noqa: S105 - a shell variable's name, not a secret
"""What the copied curl command sends as the token: a shell variable the user sets, never the real one."""
DEFAULT_CONTEXT = '{\n  "name": "Ada"\n}'


@dataclass(frozen=True, slots=True)
class Sample:
    """What the preview renders with: the sample context (JSON text) and, in standard mode, a profile."""

    context_text: str
    profile_namespace: str
    profile_id: str

    @classmethod
    def of(cls, form: Mapping[str, str]) -> Sample:
        """The sample fields of an editor form."""
        return cls(
            form.get("sample.context", "").strip() or "{}",
            form.get("sample.namespace", "").strip(),
            form.get("sample.id", "").strip(),
        )

    def context(self) -> dict[str, Any] | ApiProblem:
        """The parsed context, or a problem naming the line and column where the JSON breaks."""
        try:
            value = json.loads(self.context_text)
        except json.JSONDecodeError as error:
            message = f"Sample context is not JSON: {error.msg}"
            return ApiProblem(400, message, {}, "sample.context", error.lineno, error.colno)
        if not isinstance(value, dict):
            return ApiProblem(400, "Sample context must be a JSON object ({…})", {}, "sample.context")
        return value

    def profile(self) -> dict[str, str] | None:
        """The picked profile's identity, when both parts are given."""
        if self.profile_namespace and self.profile_id:
            return {"namespace": self.profile_namespace, "id": self.profile_id}
        return None


@router.get("")
async def list_campaigns(
    request: Request, api: ApiDep, status: str = "", name: str = "", offset: int = 0
) -> Response:
    """The sandbox's campaigns, newest first, filtered by status and name."""
    page = await api.read("/v1/campaigns", status=status, name=name, limit=PAGE_SIZE, offset=max(offset, 0))
    return render(
        request,
        "campaigns/list.html",
        title="Campaigns",
        page=page,
        statuses=STATUSES,
        status=status,
        name_filter=name,
    )


@router.get("/new")
async def new_campaign(request: Request, api: ApiDep) -> Response:
    """An empty editor."""
    draft = {
        "channel": "email",
        "category": "Transactional",
        "identityNamespace": "email",
        "content": {"email": {"subject": "", "html": ""}},
    }
    return await _editor(request, api, draft, Sample(DEFAULT_CONTEXT, "", ""))


@router.post("/new")
async def create_campaign(request: Request, api: ApiDep) -> Response:
    """Create a Draft campaign; the API's refusal is shown next to its field."""
    form = await form_of(request)
    answer = await api.send("POST", "/v1/campaigns", campaign_body(form))
    if answer.problem is not None:
        return await _editor(request, api, campaign_body(form), Sample.of(form), problem=answer.problem)
    return redirect(request, console_url(request, f"/campaigns/{answer.body['id']}"))


@router.post("/preview")
async def preview(request: Request, api: ApiDep, session: SessionDep) -> Response:
    """The preview pane (an htmx fragment): the editor's content rendered by the API, or its refusal."""
    form = await form_of(request)
    sample = Sample.of(form)
    context = sample.context()
    if isinstance(context, ApiProblem):
        return render(request, "campaigns/preview.html", problem=context)
    body = campaign_body(form)
    campaign_id = form.get("campaignId")
    curl = (
        curl_command(_origin(request), session.credentials, campaign_id, body, context)
        if campaign_id
        else None
    )
    request_body = {
        "channel": body["channel"],
        "highThroughputMode": body["highThroughputMode"],
        "content": body["content"],
        "context": context,
    }
    if (profile := sample.profile()) is not None:
        request_body["profile"] = profile
    answer = await api.send("POST", "/v1/campaigns/preview", request_body)
    return render(
        request,
        "campaigns/preview.html",
        rendered=answer.body if answer.ok else None,
        problem=answer.problem,
        curl=curl,
    )


@router.get("/{campaign_id}")
async def show_campaign(request: Request, api: ApiDep, session: SessionDep, campaign_id: Id) -> Response:
    """A campaign: its status and actions, statistics with a chart, and the execution call as curl."""
    return await _detail(request, api, session.credentials, campaign_id)


@router.get("/{campaign_id}/stats")
async def campaign_stats(request: Request, api: ApiDep, campaign_id: Id) -> Response:
    """The statistics fragment of a campaign's page (refreshed by htmx)."""
    stats = await api.read(f"/v1/campaigns/{campaign_id}/stats", hours=STATS_HOURS)
    return render(
        request,
        "campaigns/stats.html",
        campaign={"id": campaign_id},
        stats=stats,
        chart=stats_chart(stats),
        engagement=engagement_chart(stats),
    )


@router.get("/{campaign_id}/edit")
async def edit_campaign(request: Request, api: ApiDep, campaign_id: Id) -> Response:
    """The editor of a campaign (saving is for Draft campaigns; the preview works for all)."""
    campaign = await api.read(f"/v1/campaigns/{campaign_id}")
    return await _editor(request, api, campaign, Sample(DEFAULT_CONTEXT, "", ""), campaign_id=campaign_id)


@router.post("/{campaign_id}/edit")
async def replace_campaign(request: Request, api: ApiDep, campaign_id: Id) -> Response:
    """Save a Draft campaign (a new version); what the editor does not show is carried over as stored."""
    form = await form_of(request)
    current = await api.read(f"/v1/campaigns/{campaign_id}")
    body = {**kept_fields(current), **campaign_body(form)}
    answer = await api.send("PUT", f"/v1/campaigns/{campaign_id}", body)
    if answer.problem is not None:
        draft = {**body, "status": current["status"], "version": current["version"]}
        return await _editor(
            request, api, draft, Sample.of(form), campaign_id=campaign_id, problem=answer.problem
        )
    return redirect(request, console_url(request, f"/campaigns/{campaign_id}"))


@router.post("/{campaign_id}/send")
async def send_test(request: Request, api: ApiDep, session: SessionDep, campaign_id: Id) -> Response:
    """Trigger the campaign once for one recipient, through the same execution API as "copy as curl"."""
    form = await form_of(request)
    sample = Sample.of({"sample.context": form.get("context", "")})
    context = sample.context()
    campaign = await api.read(f"/v1/campaigns/{campaign_id}")
    if isinstance(context, ApiProblem):
        problem = ApiProblem(400, context.message, {}, "context", context.line, context.column)
        return await _detail(request, api, session.credentials, campaign_id, problem, sent_form=form)
    body = execution_body(campaign_id, campaign, form.get("recipient", "").strip(), context)
    route = "highthroughput" if campaign.get("highThroughputMode") else "unitary"
    answer = await api.send("POST", f"/ajo/im/executions/{route}", body)
    if answer.problem is not None:
        return await _detail(request, api, session.credentials, campaign_id, answer.problem, sent_form=form)
    return await _detail(
        request, api, session.credentials, campaign_id, sent=answer.body or {}, sent_form=form
    )


@router.post("/{campaign_id}/{action}")
async def change_status(
    request: Request, api: ApiDep, session: SessionDep, campaign_id: Id, action: str
) -> Response:
    """Activate, stop or delete; a refusal (a rule checked again at activation) is shown on the page."""
    if action == "delete":
        answer = await api.send("DELETE", f"/v1/campaigns/{campaign_id}")
        if answer.ok:
            return redirect(request, console_url(request, "/campaigns"))
    elif action in ("activate", "stop"):
        answer = await api.send("POST", f"/v1/campaigns/{campaign_id}/{action}")
    else:
        return render(request, "error.html", 404, title="Not found", message=f"No action {action!r}")
    if answer.problem is not None:
        return await _detail(request, api, session.credentials, campaign_id, answer.problem)
    return redirect(request, console_url(request, f"/campaigns/{campaign_id}"))


def campaign_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The API body of an editor form: the campaign's fields and the content of its channel only."""
    channel = form.get("channel", "email")
    content = {
        name: form.get(f"{channel}.{name}", "")
        for name in CONTENT_FIELDS.get(channel, ())
        if form.get(f"{channel}.{name}") or name in REQUIRED_CONTENT
    }
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", ""),
        "category": form.get("category", "Transactional"),
        "channel": channel,
        "channelConfigurationId": form.get("channelConfigurationId", ""),
        "highThroughputMode": form.get("highThroughputMode") == "true",
        "identityNamespace": form.get("identityNamespace", "").strip() or "email",
        "createNewProfile": form.get("createNewProfile") == "true",
        "content": {channel: content},
    }
    if channel == "email":
        body["tracking"] = {
            "opens": form.get("tracking.opens") == "true",
            "clicks": form.get("tracking.clicks") == "true",
        }
    return body


def kept_fields(campaign: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields the editor has no input for (a PUT replaces the campaign: they must be sent back)."""
    kept = {name: campaign.get(name) for name in KEPT_FIELDS if campaign.get(name) is not None}
    schedule = {key: value for key, value in (campaign.get("schedule") or {}).items() if value is not None}
    return {**kept, "schedule": schedule} if schedule else kept


def execution_body(
    campaign_id: str, campaign: Mapping[str, Any], user_id: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """The body of one execution call for one recipient (the same shape "copy as curl" shows)."""
    high_throughput = bool(campaign.get("highThroughputMode"))
    recipient = {
        "type": "external" if high_throughput else "aep",
        "userId": user_id,
        "namespace": campaign.get("identityNamespace") or "email",
        "context": dict(context),
    }
    return {"requestId": f"console-{uuid.uuid4()}", "campaignId": campaign_id, "recipients": [recipient]}


def curl_command(
    origin: str,
    credentials: Credentials,
    campaign_id: str,
    campaign: Mapping[str, Any],
    context: Mapping[str, Any],
) -> str:
    """The execution call of a campaign as a curl command; the token is a shell variable, never the token."""
    route = "highthroughput" if campaign.get("highThroughputMode") else "unitary"
    body = {**execution_body(campaign_id, campaign, "someone@example.com", context), "requestId": "request-1"}
    lines = [
        f"curl -X POST {shlex.quote(f'{origin}/ajo/im/executions/{route}')}",
        f'-H "Authorization: Bearer {TOKEN_PLACEHOLDER}"',
        f"-H {shlex.quote('x-api-key: ' + credentials.client_id)}",
        f"-H {shlex.quote('x-gw-ims-org-id: ' + credentials.ims_org_id)}",
        f"-H {shlex.quote('x-sandbox-name: ' + credentials.sandbox_name)}",
        "-H 'Content-Type: application/json'",
        f"-d {shlex.quote(json.dumps(body, indent=2))}",
    ]
    return " \\\n  ".join(lines)


def stats_chart(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``chart`` macro's data: one bar series per status, per hour (labelled ``HH:00`` UTC)."""
    hourly = stats.get("hourly") or []
    xs = [datetime.fromisoformat(bucket["start"]).strftime("%H:00") for bucket in hourly]
    series = [
        {"label": status, "values": [bucket["counts"].get(status, 0) for bucket in hourly]}
        for status in STATS_SERIES
    ]
    return {"x": xs, "series": series}


def engagement_chart(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``chart`` macro's data: feedback events per hour (opens, clicks, bounces, complaints,
    unsubscribes; every event, not unique), labelled ``HH:00`` UTC."""
    hourly = stats.get("hourly") or []
    xs = [datetime.fromisoformat(bucket["start"]).strftime("%H:00") for bucket in hourly]
    series = [
        {
            "label": label,
            "values": [(bucket.get("events") or {}).get(kind, 0) for bucket in hourly],
            "color": color,
        }
        for kind, label, color in ENGAGEMENT_SERIES
    ]
    return {"x": xs, "series": series}


async def _detail(
    request: Request,
    api: ApiDep,
    credentials: Credentials,
    campaign_id: str,
    problem: ApiProblem | None = None,
    *,
    sent: Mapping[str, Any] | None = None,
    sent_form: Mapping[str, str] | None = None,
) -> Response:
    campaign = await api.read(f"/v1/campaigns/{campaign_id}")
    configuration = await api.call("GET", f"/v1/channel-configurations/{campaign['channelConfigurationId']}")
    stats = await api.read(f"/v1/campaigns/{campaign_id}/stats", hours=STATS_HOURS)
    return render(
        request,
        "campaigns/detail.html",
        problem.status if problem else 200,
        title=f"Campaign {campaign['name']}",
        campaign=campaign,
        configuration=configuration.body if configuration.ok else None,
        stats=stats,
        chart=stats_chart(stats),
        engagement=engagement_chart(stats),
        curl=curl_command(_origin(request), credentials, campaign_id, campaign, {}),
        problem=problem,
        sent=sent,
        sent_form=sent_form or {},
    )


async def _editor(
    request: Request,
    api: ApiDep,
    campaign: Mapping[str, Any],
    sample: Sample,
    *,
    campaign_id: str | None = None,
    problem: ApiProblem | None = None,
) -> Response:
    configurations = await api.read("/v1/channel-configurations", limit=MAX_OPTIONS)
    options = [(item["id"], _configuration_label(item)) for item in configurations["items"]]
    name = campaign.get("name") or ""
    return render(
        request,
        "campaigns/editor.html",
        problem.status if problem else 200,
        title=f"Edit {name}" if campaign_id else "New campaign",
        campaign=campaign,
        campaign_id=campaign_id,
        editable=campaign_id is None or campaign.get("status") == "Draft",
        content=campaign.get("content") or {},
        configurations=options,
        channels=CHANNELS,
        categories=CATEGORIES,
        sample=sample,
        problem=problem,
    )


def _configuration_label(item: Mapping[str, Any]) -> str:
    mode = "high throughput" if item["highThroughput"] else "standard"
    return f"{item['name']} ({item['channel']}, {mode})"


def _origin(request: Request) -> str:
    """Where the API is reached from the browser's point of view (the console shares its host and port)."""
    return f"{request.url.scheme}://{request.url.netloc}"
