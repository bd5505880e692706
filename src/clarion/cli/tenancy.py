"""``clarion org``, ``clarion sandbox``, ``clarion credentials``, ``clarion token``."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from clarion.cli.common import console, err_console, fail, load_settings, run_with_container
from clarion.container import Container
from clarion.tenancy import service
from clarion.tenancy.principal import Role
from clarion.tenancy.service import CredentialView, NewCredential, TokenView

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandboxes of an organization.", no_args_is_help=True)
credentials_app = typer.Typer(help="API keys: create, list (with last use), revoke.", no_args_is_help=True)
token_app = typer.Typer(
    help="Issue a bearer token (clarion token --org …), list or revoke tokens.", invoke_without_command=True
)

OrgOption = Annotated[str, typer.Option("--org", help="IMS org id (…@AdobeOrg) or exact name")]


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="Display name")],
    high_throughput: Annotated[bool, typer.Option(help="Grant the high-throughput add-on")] = False,
) -> None:
    """Create an organization with its production sandbox ``prod``."""

    async def work(container: Container) -> None:
        async with container.unit_of_work() as uow:
            org = await service.create_organization(uow, name, high_throughput=high_throughput)
        console.print(
            f"Created organization [bold]{org.name}[/bold]: x-gw-ims-org-id = [cyan]{org.ims_org_id}[/cyan]"
        )
        console.print(f"Next: clarion credentials create --org {org.ims_org_id}")

    run_with_container(load_settings(), work)


@org_app.command("update")
def org_update(
    org: Annotated[str, typer.Argument(help="IMS org id (…@AdobeOrg) or exact name")],
    high_throughput: Annotated[
        bool | None, typer.Option("--high-throughput/--no-high-throughput", help="The add-on")
    ] = None,
    standard_rate: Annotated[int | None, typer.Option(help="Cap of /unitary requests per second")] = None,
    ht_rate: Annotated[int | None, typer.Option(help="Cap of /highthroughput requests per second")] = None,
    standard_quota: Annotated[
        int | None, typer.Option(help="Standard-mode messages a month (0: unlimited, the default)")
    ] = None,
    ht_quota: Annotated[
        int | None, typer.Option(help="High-throughput messages a month (0: unlimited, the default)")
    ] = None,
    quota_mode: Annotated[
        str | None,
        typer.Option(help="hard: 429 once a quota is spent (default); soft: accept, log and report it"),
    ] = None,
) -> None:
    """Change an organization's entitlements, request caps and monthly message quotas."""

    async def work(container: Container) -> None:
        async with container.unit_of_work() as uow:
            found = await service.find_organization(uow, org)
            updated = await service.update_entitlements(
                uow,
                found,
                high_throughput=high_throughput,
                standard_rate=standard_rate,
                high_throughput_rate=ht_rate,
                quotas=service.QuotaChange(
                    standard=standard_quota, high_throughput=ht_quota, mode=quota_mode
                ),
            )
        console.print(
            f"{updated.ims_org_id}: high throughput {'on' if updated.high_throughput_entitled else 'off'}, "
            f"caps {updated.standard_rate_per_second}/s standard, "
            f"{updated.high_throughput_rate_per_second}/s HT; monthly quotas "
            f"{_quota(updated.standard_monthly_quota)} standard, "
            f"{_quota(updated.high_throughput_monthly_quota)} HT ({updated.quota_mode})"
        )

    run_with_container(load_settings(), work)


def _quota(value: int) -> str:
    return "unlimited" if value <= 0 else f"{value:,}"


@org_app.command("list")
def org_list() -> None:
    """List organizations."""

    async def work(container: Container) -> None:
        async with container.unit_of_work() as uow:
            orgs = await service.list_organizations(uow)
        table = Table("IMS org id", "Name", "High throughput", "Created")
        for column in table.columns:
            column.overflow = "fold"
        for org in orgs:
            table.add_row(
                org.ims_org_id,
                org.name,
                "yes" if org.high_throughput_entitled else "no",
                org.created_at.isoformat(timespec="seconds"),
            )
        console.print(table)

    run_with_container(load_settings(), work)


@sandbox_app.command("create")
def sandbox_create(
    name: Annotated[str, typer.Argument(help="Lowercase letters, digits and hyphens")],
    org: OrgOption,
    sandbox_type: Annotated[str, typer.Option("--type", help="production or development")] = "development",
) -> None:
    """Create a sandbox in an organization."""

    async def work(container: Container) -> None:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            sandbox = await service.create_sandbox(uow, organization.id, name=name, sandbox_type=sandbox_type)
        console.print(
            f"Created {sandbox.type} sandbox [bold]{sandbox.name}[/bold] in {organization.ims_org_id}"
        )

    run_with_container(load_settings(), work)


ROLES = ", ".join(role.value for role in Role)


@credentials_app.command("create")
def credentials_create(
    org: OrgOption,
    name: Annotated[str, typer.Option(help="What this key is for")] = "default",
    role: Annotated[
        str | None,
        typer.Option(
            help=f"One of {ROLES} [default: admin for the first key of the organization, else user]"
        ),
    ] = None,
) -> None:
    """Create an API key with a first access token, and print the headers to use."""
    chosen = _role(role)

    async def work(container: Container) -> NewCredential:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.create_credential(
                uow, organization, name=name, role=chosen, ttl_seconds=container.settings.token_ttl_seconds
            )

    print_headers(run_with_container(load_settings(), work))


@credentials_app.command("list")
def credentials_list(
    org: OrgOption,
    include_revoked: Annotated[bool, typer.Option("--all", help="Show revoked keys too")] = False,
) -> None:
    """List the organization's API keys with their role and last use (never a token)."""

    async def work(container: Container) -> list[CredentialView]:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.list_credentials(uow, organization, include_revoked=include_revoked)

    table = Table("API key (x-api-key)", "Name", "Role", "Created", "Last used", "Revoked")
    for column in table.columns:
        column.overflow = "fold"
    for key in run_with_container(load_settings(), work):
        table.add_row(
            key.client_id,
            key.name,
            key.role.value,
            _when(key.created_at),
            _when(key.last_used_at) or "never",
            _when(key.revoked_at),
        )
    console.print(table)


@credentials_app.command("revoke")
def credentials_revoke(
    api_key: Annotated[str, typer.Argument(help="The API key (client id) to revoke")],
    org: OrgOption,
) -> None:
    """Revoke an API key and all its tokens: every Clarion process refuses them within a second."""

    async def work(container: Container) -> None:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            await service.revoke_credential(uow, organization, api_key)

    run_with_container(load_settings(), work)
    console.print(f"Revoked API key {api_key} and its tokens")


@token_app.callback()
def token(
    ctx: typer.Context,
    org: Annotated[
        str | None, typer.Option("--org", help="IMS org id (…@AdobeOrg) or exact name (to issue a token)")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Credential to issue for (default: oldest)")
    ] = None,
) -> None:
    """Issue a bearer access token (valid 24 h by default); `token list` and `token revoke` manage them."""
    if ctx.invoked_subcommand is not None:
        return
    if org is None:
        fail("--org is required to issue a token (see clarion token --help)")

    async def work(container: Container) -> NewCredential:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.issue_token(
                uow, organization, client_id=api_key, ttl_seconds=container.settings.token_ttl_seconds
            )

    print_headers(run_with_container(load_settings(), work))


@token_app.command("list")
def token_list(
    org: OrgOption,
    api_key: Annotated[str, typer.Option("--api-key", help="The API key whose tokens to list")],
) -> None:
    """List the unexpired tokens of an API key by id (the clear token is never stored)."""

    async def work(container: Container) -> list[TokenView]:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.list_tokens(uow, organization, api_key)

    table = Table("Token id", "Created", "Expires", "Revoked")
    for column in table.columns:
        column.overflow = "fold"
    for issued in run_with_container(load_settings(), work):
        table.add_row(
            issued.token_id, _when(issued.created_at), _when(issued.expires_at), _when(issued.revoked_at)
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (printed when issued, and by `token list`)")],
    org: OrgOption,
) -> None:
    """Revoke one token: every Clarion process refuses it within a second."""

    async def work(container: Container) -> str:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.revoke_token(uow, organization, token_id)

    client_id = run_with_container(load_settings(), work)
    console.print(f"Revoked token {token_id} of API key {client_id}")


def _role(value: str | None) -> Role | None:
    if value is None:
        return None
    try:
        return Role(value)
    except ValueError:
        fail(f"--role: must be one of {ROLES} (got {value!r})")


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def print_headers(issued: NewCredential) -> None:
    """Print the ready-to-paste gateway headers of a credential."""
    hours = issued.token.expires_in_seconds / 3600
    console.print(
        f"[dim]# role {issued.role.value}; token {issued.token.token_id} valid for {hours:g} h; "
        "the token is shown only once[/dim]",
        soft_wrap=True,
    )
    console.print(f"-H 'Authorization: Bearer {issued.token.access_token}' \\", soft_wrap=True)
    console.print(f"-H 'x-api-key: {issued.client_id}' \\", soft_wrap=True)
    console.print(f"-H 'x-gw-ims-org-id: {issued.org.ims_org_id}' \\", soft_wrap=True)
    console.print("-H 'x-sandbox-name: prod'", soft_wrap=True)


@credentials_app.command("env")
def credentials_env() -> None:
    """Print shell exports of the development credentials (use: eval "$(clarion credentials env)")."""
    settings = load_settings()
    try:
        stored = json.loads(settings.credentials_path.read_text())
    except (OSError, ValueError):
        err_console.print(
            f"[red]error:[/red] no credentials at {settings.credentials_path}: run `clarion serve` first"
        )
        raise typer.Exit(1) from None
    exports = {
        "CLARION_URL": stored["baseUrl"],
        "CLARION_TOKEN": stored["accessToken"],
        "CLARION_API_KEY": stored["apiKey"],
        "CLARION_ORG": stored["orgId"],
        "CLARION_SANDBOX": stored["sandboxName"],
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
