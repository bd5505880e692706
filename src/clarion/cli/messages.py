"""``clarion messages show|list``: a message and its history, and the ledger with filters (incl. by event)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from clarion.cli.common import console, load_settings, run_with_container
from clarion.cli.scope import command_principal
from clarion.container import Container
from clarion.delivery import service
from clarion.delivery.schemas import MESSAGE_EVENT_KINDS, MessageDetail, MessageEventRead, MessageRead

messages_app = typer.Typer(
    help="The delivery ledger: messages and their event history.", no_args_is_help=True
)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="IMS org id or exact name [default: the development organization]"),
]
SandboxOption = Annotated[str, typer.Option("--sandbox", help="Sandbox name")]
_STYLE = {
    "sent": "green",
    "deferred": "yellow",
    "failed": "red",
    "expired": "red",
    "bounced": "red",
    "complained": "red",
    "suppressed": "magenta",
    "unsubscribed": "magenta",
    "opened": "cyan",
    "clicked": "cyan",
}


@messages_app.command("show")
def show(
    message_id: Annotated[str, typer.Argument(help="The message id (<executionId>:<index>)")],
    org: OrgOption = None,
    sandbox: SandboxOption = "prod",
) -> None:
    """A message and its events: time, event, attempt and details (answer, status code, diagnostic, URL)."""

    async def work(container: Container) -> MessageDetail:
        principal = await command_principal(container, org, sandbox)
        async with container.unit_of_work() as uow:
            return await service.message_detail(uow, principal.org_id, principal.sandbox_id, message_id)

    detail = run_with_container(load_settings(), work)
    console.print(_summary(detail))
    console.print(_history(detail.events))


@messages_app.command("list")
def list_messages(
    org: OrgOption = None,
    sandbox: SandboxOption = "prod",
    campaign: Annotated[str | None, typer.Option("--campaign", help="Campaign id")] = None,
    execution: Annotated[str | None, typer.Option("--execution", help="Execution id")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Ledger status (sent, bounced, …)")] = None,
    recipient: Annotated[str | None, typer.Option("--recipient", help="Address the message went to")] = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--event", help=f"Only messages with an event of this kind: {', '.join(MESSAGE_EVENT_KINDS)}"
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Messages to list")] = 50,
) -> None:
    """The newest messages matching the filters."""
    if event is not None and event not in MESSAGE_EVENT_KINDS:
        raise typer.BadParameter(f"must be one of {', '.join(MESSAGE_EVENT_KINDS)}", param_hint="--event")
    filters = {
        "campaignId": campaign,
        "executionId": execution,
        "status": status,
        "recipient": recipient,
        "event": event,
    }

    async def work(container: Container) -> tuple[list[MessageRead], int]:
        principal = await command_principal(container, org, sandbox)
        async with container.unit_of_work() as uow:
            return await service.list_messages(
                uow, principal.org_id, principal.sandbox_id, filters, limit=limit, offset=0
            )

    rows, total = run_with_container(load_settings(), work)
    table = Table(title=_title(total, rows))
    table.add_column("Accepted (UTC)")
    # Whole, on one line: the id is what `clarion messages show` takes (the answer wraps instead).
    table.add_column("Message", no_wrap=True, min_width=38)
    for name in ("Recipient", "Status", "Attempts", "Answer"):
        table.add_column(name)
    for row in rows:
        table.add_row(
            _time(row.accepted_at),
            row.id,
            row.recipient,
            Text(row.status, style=_STYLE.get(row.status, "")),
            str(row.attempts),
            Text(_short(row.response)),
        )
    console.print(table)


def _title(total: int, rows: list[MessageRead]) -> str:
    return f"{len(rows):,} of {total:,} messages, newest first"


def _summary(detail: MessageDetail) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("Message", detail.id),
        ("Status", Text(detail.status, style=_STYLE.get(detail.status, ""))),
        ("Recipient", detail.recipient),
        ("Channel", detail.channel),
        ("Campaign", detail.campaign_id),
        ("Execution", detail.execution_id),
        ("Attempts", str(detail.attempts)),
        ("Last answer", Text(detail.response)),
        ("Accepted", _time(detail.accepted_at)),
        ("Sent", _time(detail.sent_at) if detail.sent_at else "-"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _history(events: list[MessageEventRead]) -> Table:
    table = Table("Time (UTC)", "Event", "Attempt", "Details", title="History")
    for event in events:
        table.add_row(
            _time(event.at),
            Text(event.kind, style=_STYLE.get(event.kind, "")),
            str(event.attempt) if event.attempt else "",
            Text(details(event)),
        )
    return table


def details(event: MessageEventRead) -> str:
    """One line of what an event carries: the answer, a bounce's type/status/diagnostic, a click's URL…"""
    data = event.data or {}
    parts: list[str] = []
    if event.kind == "bounced" and data:
        parts.append(" ".join(str(data[key]) for key in ("type", "status") if data.get(key)) + " bounce")
        if data.get("diagnostic"):
            parts.append(str(data["diagnostic"]))
    elif event.kind == "clicked" and data.get("url"):
        parts.append(str(data["url"]))
    elif event.kind == "opened":
        parts.append("machine open" if data.get("machine") else "opened")
    elif event.kind == "complained" and data.get("feedbackType"):
        parts.append(f"complaint: {data['feedbackType']}")
    elif event.kind == "unsubscribed":
        parts.append(" ".join(str(data[key]) for key in ("category", "method") if data.get(key)))
    if event.response and event.response not in parts:
        parts.append(event.response)
    return " — ".join(part for part in parts if part)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
