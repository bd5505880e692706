"""`clarion credentials` and `clarion token`: roles, last use, revocation; bad settings in one line."""

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
from tests.cli.test_cli import headers_from, invoke

runner = CliRunner()


async def statuses(settings: Settings, *requests: tuple[str, str, dict[str, str]]) -> list[int]:
    """The status of each (method, path, headers) against a fresh app on the CLI's database."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                (
                    await client.request(method, path, headers=headers, json={"name": "p", "relays": []})
                ).status_code
                for method, path, headers in requests
            ]


def test_roles_listing_and_revocation(cli_env: Settings) -> None:
    name = f"roles-{secrets.token_hex(3)}"
    invoke("org", "create", name)
    admin_output = invoke("credentials", "create", "--org", name)
    assert "# role admin;" in admin_output
    admin = headers_from(admin_output)
    reader_output = invoke(
        "credentials", "create", "--org", name, "--role", "read-only", "--name", "dashboards"
    )
    assert "# role read-only;" in reader_output
    reader = headers_from(reader_output)

    codes = asyncio.run(
        statuses(
            cli_env,
            ("GET", "/v1/sandboxes", reader),
            ("POST", "/v1/ip-pools", reader),
            ("GET", "/v1/credentials", admin),
        )
    )
    assert codes == [200, 403, 200]

    listed = invoke("credentials", "list", "--org", name)
    row = next(line for line in listed.splitlines() if reader["x-api-key"] in line)
    assert "read-only" in row
    assert "dashboards" in row
    assert "never" not in row
    assert reader["Authorization"].split()[1] not in listed

    # Token: issue a second one, list by id, revoke only that one.
    issued = invoke("token", "--org", name, "--api-key", reader["x-api-key"])
    token_id = re.search(r"token ([0-9a-f-]{36}) valid", issued)
    assert token_id is not None
    assert token_id.group(1) in invoke("token", "list", "--org", name, "--api-key", reader["x-api-key"])
    assert "Revoked token" in invoke("token", "revoke", token_id.group(1), "--org", name)
    second = headers_from(issued)
    assert asyncio.run(
        statuses(cli_env, ("GET", "/v1/sandboxes", second), ("GET", "/v1/sandboxes", reader))
    ) == [
        401,
        200,
    ]

    assert "Revoked API key" in invoke("credentials", "revoke", reader["x-api-key"], "--org", name)
    assert asyncio.run(
        statuses(cli_env, ("GET", "/v1/sandboxes", reader), ("GET", "/v1/sandboxes", admin))
    ) == [
        401,
        200,
    ]
    assert reader["x-api-key"] not in invoke("credentials", "list", "--org", name)
    assert reader["x-api-key"] in invoke("credentials", "list", "--org", name, "--all")


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["credentials", "create", "--org", "x", "--role", "boss"], "--role: must be one of"),
        (["token"], "--org is required"),
        (["token", "revoke", "no-such-token", "--org", "nobody@AdobeOrg"], "No organization matches"),
    ],
)
def test_mistakes_are_one_line(cli_env: Settings, command: list[str], problem: str) -> None:
    result = runner.invoke(cli, command)
    assert result.exit_code == 1
    assert problem in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("command", "variable", "value", "rule"),
    [
        (["token", "--org", "x"], "CLARION_TOKEN_TTL_SECONDS", "1", "greater than or equal to 60"),
        (
            ["credentials", "list", "--org", "x"],
            "CLARION_AUTH_CACHE_SECONDS",
            "-1",
            "greater than or equal to 0",
        ),
        (["serve"], "CLARION_PORT", "abc", "valid integer"),
        (["worker"], "CLARION_QUEUE_URL", "kafka://broker", "must be 'sqlite' or a redis://"),
        (["migrate"], "CLARION_DATABASE_URL", "mysql://db", "sqlite:///path or postgresql"),
    ],
)
def test_bad_settings_are_one_line(
    cli_env: Settings, command: list[str], variable: str, value: str, rule: str
) -> None:
    result = runner.invoke(cli, command, env={variable: value})
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        line for line in result.output.strip().splitlines() if line.startswith(f"error: {variable}: ")
    ]
    assert len(result.output.strip().splitlines()) == 1
    assert rule in result.output
    assert repr(value) in result.output
    assert "Traceback" not in result.output


def test_production_without_secret_key_is_one_line(cli_env: Settings) -> None:
    env = {"CLARION_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "CLARION_SECRET_KEY": ""}
    for command in (["serve"], ["credentials", "list", "--org", "x"]):
        result = runner.invoke(cli, command, env=env)
        assert result.exit_code == 1, result.output
        assert result.output.strip() == (
            "error: CLARION_SECRET_KEY must be set when running on PostgreSQL (see README: Production)"
        )
