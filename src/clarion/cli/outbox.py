"""``clarion outbox``: mail captured by the bundled SMTP server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clarion.cli.common import console, err_console, load_settings
from clarion.devsmtp.outbox import Outbox

outbox_app = typer.Typer(help="Mail captured by the bundled SMTP server (embedded mode).")


SHORT_ID = 8


def _outbox() -> Outbox:
    return Outbox(load_settings().outbox_path)


def _resolve(outbox: Outbox, prefix: str) -> str | None:
    """A full id from the short id that ``clarion outbox`` shows (or a full id)."""
    matches = [mail.id for mail in outbox.list(limit=outbox.count()) if mail.id.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Messages to show")] = 20,
    to: Annotated[str | None, typer.Option(help="Only mail to this recipient")] = None,
) -> None:
    """List captured mail, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table("Id", "Received (UTC)", "From", "To", "Subject", "Size")
    for column in table.columns:
        column.overflow = "fold"  # never hide an address or a subject behind an ellipsis
    for mail in _outbox().list(limit=limit, recipient=to):
        table.add_row(
            mail.id[:SHORT_ID],
            mail.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            mail.mail_from,
            ", ".join(mail.rcpt_tos),
            mail.subject,
            str(mail.size),
        )
    console.print(table)


@outbox_app.command("show")
def outbox_show(
    mail_id: Annotated[str, typer.Argument(help="Id from `clarion outbox`")],
    raw: Annotated[bool, typer.Option(help="Print the raw MIME message")] = False,
) -> None:
    """Show one captured message (its text part, or the raw MIME with --raw)."""
    outbox = _outbox()
    resolved = _resolve(outbox, mail_id)
    if resolved is None:
        err_console.print(f"[red]error:[/red] no captured mail (or more than one) with id {mail_id!r}")
        raise typer.Exit(1)
    mail_id = resolved
    if raw:
        console.print(outbox.raw(mail_id).decode("utf-8", "replace"), markup=False, highlight=False)
        return
    message = outbox.parse(mail_id)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        console.print(f"[bold]{header}:[/bold] {message.get(header, '')}", highlight=False)
    bodies = outbox.bodies(mail_id)
    console.print()
    console.print(
        bodies.text if bodies.text is not None else (bodies.html or ""), markup=False, highlight=False
    )


@outbox_app.command("clear")
def outbox_clear() -> None:
    """Delete every captured message."""
    console.print(f"deleted {_outbox().clear()} message(s)")
