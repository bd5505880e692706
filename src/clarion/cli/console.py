"""``clarion console login``: a one-time sign-in link to the web console."""

from __future__ import annotations

from typing import Annotated

import typer

from clarion.cli.common import console, fail, load_settings, run_with_container
from clarion.console import sessions
from clarion.container import Container
from clarion.tenancy import service
from clarion.tenancy.bootstrap import read_dev_credentials

console_app = typer.Typer(help="The web console (served by clarion serve at /console).", no_args_is_help=True)

LINK_TOKEN_TTL = sessions.SESSION_TTL + sessions.CODE_TTL
"""The token behind a sign-in link lives as long as the longest session it can open (revoked at sign-out)."""


async def sign_in_link(
    container: Container, *, org: str, api_key: str | None, sandbox: str = service.PRODUCTION_SANDBOX
) -> str:
    """Issue a token for ``api_key`` (default: the organization's oldest key) and a one-time link with it."""
    async with container.unit_of_work() as uow:
        organization = await service.find_organization(uow, org)
        issued = await service.issue_token(
            uow, organization, client_id=api_key, ttl_seconds=int(LINK_TOKEN_TTL.total_seconds())
        )
    credentials = sessions.Credentials(
        organization.ims_org_id, issued.client_id, issued.token.access_token, sandbox
    )
    async with container.unit_of_work() as uow:
        code = await sessions.issue_code(uow, container.secrets, credentials, token_id=issued.token.token_id)
    return f"{container.settings.base_url}/console/login?code={code}"


@console_app.command("login")
def login(
    org: Annotated[
        str | None,
        typer.Option("--org", help="IMS org id (…@AdobeOrg) or exact name [default: the development org]"),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The API key to sign in with [default: the oldest]")
    ] = None,
    sandbox: Annotated[str, typer.Option(help="Sandbox to open")] = service.PRODUCTION_SANDBOX,
) -> None:
    """Print a sign-in link for the console: it works once, within 10 minutes, with the key's role."""
    settings = load_settings()
    if org is None:
        development = read_dev_credentials(settings)
        if development is None:
            fail("--org is required (no development organization here: see clarion console login --help)")
        org, api_key = development.orgId, api_key or development.apiKey

    async def work(container: Container) -> str:
        return await sign_in_link(container, org=org, api_key=api_key, sandbox=sandbox)

    link = run_with_container(settings, work)
    console.print("Open this link to sign in to the console (once, within 10 minutes):")
    console.print(f"  {link}", soft_wrap=True, markup=False, highlight=False)
