"""The messages area: the overview's delivery charts, the ledger, one message (mail, history), the outbox.

Everything comes from the public API: ``/v1/messages`` (ledger with its ``event`` filter, ``stats``, one
message with its ``events``, ``mail``, ``resend``),
``/v1/outbox`` and ``/v1/usage``. A message's HTML is shown in an ``<iframe sandbox srcdoc>``: no scripts,
no forms, an opaque origin, and the console's CSP (inherited by ``srcdoc`` documents) blocks remote images.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, console_url, render

router = APIRouter()

PAGE_SIZE = 50
STATUSES = ("accepted", "sent", "failed", "expired", "bounced", "suppressed")
EVENTS = (
    "sent",
    "deferred",
    "failed",
    "expired",
    "resent",
    "suppressed",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
)
"""The ``event`` filter's choices: kinds of ``GET /v1/messages?event=`` (``accepted``: every message)."""
RESENDABLE = ("failed", "expired")


@dataclass(frozen=True, slots=True)
class LedgerFilters:
    """The ledger's filters as GET parameters (bookmarkable); times are UTC ``YYYY-MM-DDTHH:MM``."""

    status: str = ""
    campaign: str = ""
    recipient: str = ""
    since: str = ""
    until: str = ""
    event: str = ""

    @classmethod
    def of(cls, request: Request) -> LedgerFilters:
        """The filters of the page's query string."""
        query = request.query_params
        names = ("status", "campaign", "recipient", "since", "until", "event")
        return cls(*(query.get(name, "").strip() for name in names))

    def api_params(self) -> dict[str, str]:
        """The same filters as ``/v1/messages`` parameters (the form's UTC times get their zone)."""
        return {
            "status": self.status,
            "campaignId": self.campaign,
            "recipient": self.recipient,
            "since": _utc(self.since),
            "until": _utc(self.until),
            "event": self.event,
        }


def _utc(moment: str) -> str:
    """A ``datetime-local`` value read as UTC; anything else goes to the API as typed (it explains)."""
    return moment + "Z" if moment and moment[-1:].isdigit() else moment


def _id(value: str) -> str:
    """A path segment of the API (ids are the API's to check; this only keeps them one segment)."""
    return quote(value, safe=":")


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return int(value) if value.isdigit() and len(value) < 10 else 0


def throughput_chart(stats: dict[str, Any]) -> dict[str, Any]:
    """The ``chart`` macro's data: messages sent and failed per bucket."""
    buckets = stats["buckets"]
    return {
        "x": [int(datetime.fromisoformat(bucket["start"]).timestamp()) for bucket in buckets],
        "series": [
            {"label": "Sent", "values": [bucket["sent"] for bucket in buckets], "color": "#2b8a3e"},
            {
                "label": "Failed or expired",
                "values": [bucket["failed"] + bucket["expired"] for bucket in buckets],
                "color": "#d9480f",
            },
        ],
    }


async def overview_data(api: ConsoleApi) -> dict[str, Any]:
    """What the overview shows of delivery: the last hour per minute and the last day's totals."""
    hour = await api.read("/v1/messages/stats", bucket="minute")
    day = await api.read("/v1/messages/stats", bucket="hour")
    return {"hour": hour, "day": day, "chart": throughput_chart(hour)}


@router.get("/messages")
async def ledger(request: Request, api: ApiDep) -> Response:
    """The delivery ledger, newest first, with bookmarkable filters."""
    filters = LedgerFilters.of(request)
    offset = _offset(request)
    answer = await api.call(
        "GET", "/v1/messages", params={**filters.api_params(), "limit": PAGE_SIZE, "offset": offset}
    )
    campaigns = await api.read("/v1/campaigns", limit=100)
    return render(
        request,
        "messages/ledger.html",
        400 if answer.problem else 200,
        title="Messages",
        filters=filters,
        page=answer.body if answer.ok else None,
        problem=answer.problem,
        offset=offset,
        limit=PAGE_SIZE,
        status_options=[("", "Any"), *((status, status) for status in STATUSES)],
        campaign_options=[("", "Any"), *((item["id"], item["name"]) for item in campaigns["items"])],
        event_options=[("", "Any"), *((kind, kind) for kind in EVENTS)],
    )


@router.get("/messages/{message_id}")
async def message(request: Request, api: ApiDep, message_id: str) -> Response:
    """One message: its facts, its mail, its history; a resend button when it failed."""
    return await _message_page(request, api, message_id)


@router.get("/messages/{message_id}/history")
async def history_fragment(request: Request, api: ApiDep, message_id: str) -> Response:
    """The status and history fragment, polled while the message is on its way."""
    row = await api.read(f"/v1/messages/{_id(message_id)}")  # with its history (``events``)
    return render(request, "messages/_history.html", message=row, events=row["events"])


@router.post("/messages/{message_id}/resend")
async def resend(request: Request, api: ApiDep, message_id: str) -> Response:
    """Queue a failed message again (``POST /v1/messages/resend`` with its id), then show it."""
    answer = await api.send("POST", "/v1/messages/resend", {"messageId": message_id})
    if answer.problem is not None:
        return await _message_page(request, api, message_id, problem=answer.problem, status=400)
    if not answer.body["requeued"]:
        problem = ApiProblem(409, "Nothing was resent: the message is not failed or expired any more", {})
        return await _message_page(request, api, message_id, problem=problem, status=409)
    return RedirectResponse(console_url(request, f"/messages/{_id(message_id)}?resent=1"), 303)


async def _message_page(
    request: Request, api: ApiDep, message_id: str, *, problem: ApiProblem | None = None, status: int = 200
) -> Response:
    row = await api.read(f"/v1/messages/{_id(message_id)}")  # with its history (``events``)
    mail = await api.call("GET", f"/v1/messages/{_id(message_id)}/mail")
    return render(
        request,
        "messages/message.html",
        status,
        title=f"Message {message_id}",
        message=row,
        events=row["events"],
        mail=mail.body if mail.ok else None,
        mail_problem=mail.problem,
        problem=problem,
        resendable=row["status"] in RESENDABLE,
        resent=request.query_params.get("resent") == "1",
    )


@router.get("/outbox")
async def outbox(request: Request, api: ApiDep) -> Response:
    """Mail the bundled SMTP server captured for this organization and sandbox (embedded mode)."""
    recipient = request.query_params.get("recipient", "").strip()
    offset = _offset(request)
    answer = await api.call(
        "GET", "/v1/outbox", params={"recipient": recipient, "limit": PAGE_SIZE, "offset": offset}
    )
    return render(
        request,
        "messages/outbox.html",
        200 if answer.ok or answer.status == 404 else 400,
        title="Outbox",
        recipient=recipient,
        page=answer.body if answer.ok else None,
        problem=answer.problem,
        offset=offset,
        limit=PAGE_SIZE,
    )


@router.get("/outbox/{mail_id}")
async def outbox_mail(request: Request, api: ApiDep, mail_id: str) -> Response:
    """One captured mail: its headers and its HTML in a sandboxed frame."""
    mail = await api.read(f"/v1/outbox/{_id(mail_id)}")
    return render(request, "messages/outbox_mail.html", title=mail["subject"] or "Captured mail", mail=mail)
