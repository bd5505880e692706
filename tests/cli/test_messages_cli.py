"""``clarion messages show|list``: a message's history in a table, filters, one-line errors."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from clarion.cli.main import app as cli
from clarion.cli.scope import command_principal
from clarion.config import Settings
from clarion.container import Container
from clarion.delivery import repository
from clarion.delivery.schemas import EventRow, LedgerRow
from clarion.kit.clock import utcnow

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


async def seed(settings: Settings, org: str) -> tuple[str, str]:
    """A bounced message and a clicked one, as the worker and ``record_feedback`` write them."""
    container = Container.build(settings)
    try:
        principal = await command_principal(container, org, "prod")
        now = utcnow()
        rows: list[LedgerRow] = []
        events: list[EventRow] = []
        for index, address in enumerate(("gone@example.com", "reader@example.com")):
            message_id = f"exec-{org}:{index}"
            rows.append(
                {
                    "id": message_id,
                    "org_id": principal.org_id,
                    "sandbox_id": principal.sandbox_id,
                    "campaign_id": "c1",
                    "execution_id": f"exec-{org}",
                    "request_id": "r1",
                    "user_id": address,
                    "recipient": address,
                    "channel": "email",
                    "status": "bounced" if index == 0 else "sent",
                    "attempts": 1,
                    "response": "250 2.0.0 queued",
                    "rendered_size": 100,
                    "header_message_id": "<m@x>",
                    "accepted_at": now - timedelta(minutes=2),
                    "updated_at": now,
                    "sent_at": now - timedelta(minutes=1),
                    "payload": None,
                }
            )
            kind, data = (
                ("bounced", {"type": "hard", "status": "5.1.1", "diagnostic": "smtp; 550 5.1.1 no such user"})
                if index == 0
                else ("clicked", {"url": "https://shop.example/sale", "userAgent": "Mozilla/5.0"})
            )
            events.append(
                {
                    "message_id": message_id,
                    "org_id": principal.org_id,
                    "sandbox_id": principal.sandbox_id,
                    "campaign_id": "c1",
                    "kind": kind,  # type: ignore[typeddict-item]
                    "attempt": 1,
                    "response": "",
                    "header_message_id": "",
                    "data": data,
                    "at": now,
                }
            )
        async with container.unit_of_work() as uow:
            await repository.upsert_messages(uow.session, rows)
            await repository.add_events(uow.session, events)
            await uow.commit()
        return rows[0]["id"], rows[1]["id"]
    finally:
        await container.close()


@pytest.mark.parametrize("command", [["messages"], ["messages", "show"], ["messages", "list"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_show_and_list(cli_env: Settings) -> None:
    org = f"msg-{secrets.token_hex(3)}"
    invoke("org", "create", org)
    bounced, clicked = asyncio.run(seed(cli_env, org))

    shown = invoke("messages", "show", bounced, "--org", org)
    assert "gone@example.com" in shown
    for line in ("accepted", "sent", "bounced"):
        assert line in shown
    assert "hard 5.1.1 bounce — smtp; 550 5.1.1 no such user" in shown
    history = shown[shown.index("History") :]
    assert history.index("accepted") < history.index("250 2.0.0 queued") < history.index("hard 5.1.1")
    assert "https://shop.example/sale" in invoke("messages", "show", clicked, "--org", org)

    listed = invoke("messages", "list", "--org", org, "--event", "clicked")
    assert clicked in listed
    assert bounced not in listed
    assert "1 of 1 messages" in listed
    every = invoke("messages", "list", "--org", org, "--event", "sent")
    assert bounced in every
    assert clicked in every


def test_unknown_message_and_event_are_one_line_errors(cli_env: Settings) -> None:
    org = f"msg-{secrets.token_hex(3)}"
    invoke("org", "create", org)
    missing = runner.invoke(cli, ["messages", "show", "nope:0", "--org", org])
    assert missing.exit_code == 1
    assert "error: Message 'nope:0' does not exist" in missing.output
    assert "Traceback" not in missing.output
    wrong = runner.invoke(cli, ["messages", "list", "--org", org, "--event", "read"])
    assert wrong.exit_code == 2
    assert "--event" in wrong.output
