"""``clarion outbox``: mail captured by the bundled SMTP server, one organization's at a time.

The CLI has the database, so it is the instance's operator: it shows any organization's mail (``--org``),
and it alone shows mail that no organization sent (``--unattributed``: something wrote to the capture port
directly). An API caller sees only its own (``GET /v1/outbox``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clarion.cli.common import console, err_console, load_settings, run_with_container
from clarion.container import Container
from clarion.delivery import captured
from clarion.delivery.attribution import OutboxScope
from clarion.devsmtp.outbox import Outbox

outbox_app = typer.Typer(
    help="Mail captured by the bundled SMTP server (embedded mode): one organization's "
    "(--org), or the mail no organization sent (--unattributed)."
)

SHORT_ID = 8

OrgOption = Annotated[
    str | None,
    typer.Option(
        "--org",
        help="IMS org id (…@AdobeOrg) or exact name; may be left out when the instance has one organization",
    ),
]
SandboxOption = Annotated[str | None, typer.Option("--sandbox", help="Only this sandbox of the organization")]
UnattributedOption = Annotated[
    bool,
    typer.Option("--unattributed", help="Mail that no organization sent (operator only: not in the API)"),
]


def _outbox() -> Outbox:
    return Outbox(load_settings().outbox_path)


def _scope(org: str | None, sandbox: str | None, unattributed: bool) -> OutboxScope:
    """The scope the flags name, resolved against the database (one-line error when they name nothing)."""

    async def work(container: Container) -> OutboxScope:
        async with container.unit_of_work() as uow:
            return await captured.operator_scope(
                uow, container.secrets, org=org, sandbox=sandbox, unattributed=unattributed
            )

    return run_with_container(load_settings(), work)


def _resolve(outbox: Outbox, scope: OutboxScope, prefix: str) -> str | None:
    """A full id from the short id that ``clarion outbox`` shows (or a full id), within ``scope``."""
    mails = outbox.list(limit=outbox.count(), keep=scope.admits)
    matches = [mail.id for mail in mails if mail.id.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    ctx: typer.Context,
    org: OrgOption = None,
    sandbox: SandboxOption = None,
    unattributed: UnattributedOption = False,
    limit: Annotated[int, typer.Option(min=1, help="Messages to show")] = 20,
    to: Annotated[str | None, typer.Option(help="Only mail to this recipient")] = None,
) -> None:
    """List captured mail, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    scope = _scope(org, sandbox, unattributed)
    table = Table("Id", "Received (UTC)", "From", "To", "Subject", "Size")
    for column in table.columns:
        column.overflow = "fold"  # never hide an address or a subject behind an ellipsis
    for mail in _outbox().list(limit=limit, recipient=to, keep=scope.admits):
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
    org: OrgOption = None,
    sandbox: SandboxOption = None,
    unattributed: UnattributedOption = False,
    raw: Annotated[bool, typer.Option(help="Print the raw MIME message")] = False,
) -> None:
    """Show one captured message (its text part, or the raw MIME with --raw), of the organization named."""
    outbox = _outbox()
    resolved = _resolve(outbox, _scope(org, sandbox, unattributed), mail_id)
    if resolved is None:
        err_console.print(
            f"[red]error:[/red] no captured mail (or more than one) with id {mail_id!r} "
            "in this organization's outbox (--org, or --unattributed)"
        )
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
    """Delete every captured message (of every organization: the outbox is the instance's)."""
    console.print(f"deleted {_outbox().clear()} message(s)")
