"""``clarion org``, ``clarion sandbox``, ``clarion credentials``, ``clarion token``."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer
from rich.table import Table

from clarion.cli.common import console, err_console, load_settings, run_with_container
from clarion.container import Container
from clarion.tenancy import service
from clarion.tenancy.service import NewCredential

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandboxes of an organization.", no_args_is_help=True)
credentials_app = typer.Typer(help="API keys and their tokens.", no_args_is_help=True)

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


@credentials_app.command("create")
def credentials_create(
    org: OrgOption,
    name: Annotated[str, typer.Option(help="What this key is for")] = "default",
) -> None:
    """Create an API key with a first access token, and print the headers to use."""

    async def work(container: Container) -> NewCredential:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.create_credential(
                uow, organization, name=name, ttl_seconds=container.settings.token_ttl_seconds
            )

    print_headers(run_with_container(load_settings(), work))


def token(
    org: OrgOption,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Credential to issue for (default: oldest)")
    ] = None,
) -> None:
    """Issue a new bearer access token (valid 24 h by default)."""

    async def work(container: Container) -> NewCredential:
        async with container.unit_of_work() as uow:
            organization = await service.find_organization(uow, org)
            return await service.issue_token(
                uow, organization, client_id=api_key, ttl_seconds=container.settings.token_ttl_seconds
            )

    print_headers(run_with_container(load_settings(), work))


def print_headers(issued: NewCredential) -> None:
    """Print the ready-to-paste gateway headers of a credential."""
    hours = issued.token.expires_in_seconds / 3600
    console.print(f"[dim]# token valid for {hours:g} h; the token is shown only once[/dim]")
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
