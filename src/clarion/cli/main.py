"""The ``clarion`` command."""

from __future__ import annotations

import typer

from clarion.cli import serve as serve_commands
from clarion.cli.console import console_app
from clarion.cli.dkim import dkim_app
from clarion.cli.doctor import doctor
from clarion.cli.feedback import feedback
from clarion.cli.messages import messages_app
from clarion.cli.outbox import outbox_app
from clarion.cli.profiles import profiles_app
from clarion.cli.suppressions import suppressions_app
from clarion.cli.tenancy import credentials_app, org_app, sandbox_app, token_app
from clarion.cli.usage import usage

app = typer.Typer(
    name="clarion",
    help="Clarion: API-triggered messaging, audience activation and outbound throttling.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)
app.command()(serve_commands.serve)
app.command()(serve_commands.worker)
app.command()(serve_commands.migrate)
app.command()(doctor)
app.command()(feedback)
app.command()(usage)
app.add_typer(org_app, name="org")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(credentials_app, name="credentials")
app.add_typer(token_app, name="token")
app.add_typer(outbox_app, name="outbox")
app.add_typer(messages_app, name="messages")
app.add_typer(profiles_app, name="profiles")
app.add_typer(suppressions_app, name="suppressions")
app.add_typer(console_app, name="console")
app.add_typer(dkim_app, name="dkim")
