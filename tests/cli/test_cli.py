"""The CLI: every command has --help, and the tenancy commands work end to end on the configured database."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import pytest
from typer.testing import CliRunner

from clarion.app import create_app
from clarion.cli.main import app as cli
from clarion.config import Settings

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["worker"],
        ["migrate"],
        ["token"],
        ["org"],
        ["org", "create"],
        ["sandbox", "create"],
        ["credentials", "create"],
        ["outbox"],
        ["doctor"],
        ["profiles"],
        ["profiles", "import"],
    ],
)
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def invoke(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def headers_from(output: str) -> dict[str, str]:
    pairs = re.findall(r"-H '([^:]+): ([^']+)'", output)
    return dict(pairs)


def test_org_credentials_token_and_sandbox(cli_env: Settings) -> None:
    name = f"cli-{secrets.token_hex(3)}"
    created = invoke("org", "create", name, "--high-throughput")
    ims_org = re.search(r"(\w+@AdobeOrg)", created)
    assert ims_org is not None
    assert name in invoke("org", "list")
    headers = headers_from(invoke("credentials", "create", "--org", ims_org.group(1)))
    assert headers["x-gw-ims-org-id"] == ims_org.group(1)
    invoke("sandbox", "create", "staging", "--org", name)
    updated = invoke("org", "update", name, "--ht-rate", "20000", "--standard-rate", "100")
    assert "caps 100/s standard, 20000/s HT" in updated
    second = headers_from(invoke("token", "--org", name))
    assert second["x-api-key"] == headers["x-api-key"]
    assert second["Authorization"] != headers["Authorization"]

    asyncio.run(check_api(cli_env, headers, second))


async def check_api(settings: Settings, headers: dict[str, str], second: dict[str, str]) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for issued in (headers, second):
                response = await client.get("/v1/sandboxes", headers=issued)
                assert response.status_code == 200
                assert sorted(item["name"] for item in response.json()["items"]) == ["prod", "staging"]
            organization = (await client.get("/v1/organization", headers=headers)).json()
            assert organization["highThroughputEntitled"] is True
            assert organization["highThroughputRatePerSecond"] == 20000


def test_unknown_org_is_a_readable_error(cli_env: Settings) -> None:
    result = runner.invoke(cli, ["credentials", "create", "--org", "nobody@AdobeOrg"])
    assert result.exit_code == 1
    assert "No organization matches 'nobody@AdobeOrg'" in result.output


def test_duplicate_sandbox_is_a_readable_error(cli_env: Settings) -> None:
    name = f"dup-{secrets.token_hex(3)}"
    invoke("org", "create", name)
    invoke("sandbox", "create", "dev", "--org", name)
    result = runner.invoke(cli, ["sandbox", "create", "dev", "--org", name])
    assert result.exit_code == 1
    assert "already exists" in result.output
