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
        ["org", "update"],
        ["usage"],
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


def test_quotas_and_usage_table(cli_env: Settings) -> None:
    name = f"quota-{secrets.token_hex(3)}"
    invoke("org", "create", name, "--high-throughput")
    updated = invoke("org", "update", name, "--standard-quota", "1000", "--ht-quota", "250000")
    assert "monthly quotas 1,000 standard, 250,000 HT (hard)" in updated
    soft = invoke("org", "update", name, "--ht-quota", "0", "--quota-mode", "soft")
    assert "monthly quotas 1,000 standard, unlimited HT (soft)" in soft
    report = invoke("usage", "--org", name, "--from", "2026-01", "--to", "2026-03", "--days")
    assert "soft quotas" in report
    assert re.search(r"standard\s+│\s+0\s+│\s+1,000\s+│\s+1,000\s+│\s+0", report), report
    assert re.search(r"high throughput\s+│\s+0\s+│\s+unlimited", report), report
    for month in ("2026-01", "2026-02", "2026-03"):
        assert month in report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["org", "update", "{org}", "--ht-quota", "-1"], "high-throughput quota: must be between 0"),
        (["org", "update", "{org}", "--quota-mode", "lenient"], "quota mode: must be hard or soft"),
        (["usage", "--org", "{org}", "--from", "2026-13"], "from: must be a month as YYYY-MM between 2000"),
        (["usage", "--org", "{org}", "--from", "2024-01", "--to", "2026-01"], "at most 13 are allowed"),
    ],
)
def test_quota_mistakes_are_one_line_errors(cli_env: Settings, args: list[str], message: str) -> None:
    name = f"qerr-{secrets.token_hex(3)}"
    invoke("org", "create", name)
    result = runner.invoke(cli, [arg.replace("{org}", name) for arg in args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
