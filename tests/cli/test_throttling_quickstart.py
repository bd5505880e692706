"""``examples/throttling-quickstart.sh`` against a real ``clarion serve`` and a real HTTP target.

The script walks the contract's sequences (throttling under /journey/orchestration, capping under /authoring)
and then sends three events through a custom action; here the action calls a local server on an ephemeral
port, which is why Clarion runs with ``CLARION_CUSTOM_ACTION_ANY_PORT=1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.servers import running_clarion
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer

SCRIPT = Path(__file__).parents[2] / "examples" / "throttling-quickstart.sh"
LAST_LINE = "Throttling quickstart: every step passed."


@pytest.fixture
def clarion(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running ``clarion serve`` (embedded mode) whose custom actions may call any port; its environment."""
    with running_clarion(tmp_path, custom_action_any_port="1") as env:
        yield env


async def test_throttling_quickstart(clarion: dict[str, str], tmp_path: Path) -> None:
    async def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(200, {"received": request.target})

    async with HttpServer(answer) as target:
        env = clarion | {"QUICKSTART_ACTION_URL": f"{target.url}/hook"}
        script = await asyncio.create_subprocess_exec(
            "bash", str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        stdout, stderr = await asyncio.wait_for(script.communicate(), timeout=90)

    output = stdout.decode()
    server_log = (tmp_path / "server.log").read_text()[-4000:]
    assert script.returncode == 0, f"{output}\n{stderr.decode()}\n--- end of the server log ---\n{server_log}"
    assert stderr.decode() == ""
    lines = output.strip().splitlines()
    assert lines[-1] == LAST_LINE
    for heading in (
        "== Throttling API under /journey/orchestration",
        "== Capping API under /authoring",
        "    500, code 1451: Can't delete a deployed endpoint config. Undeploy it before deleting it",
        "    3 of 3 sent, each answered HTTP 200",
    ):
        assert heading in lines
    assert target.errors == []
    assert sorted((request.method, request.target) for request in target.requests) == [
        ("GET", f"/hook?order=A-{number}") for number in (1, 2, 3)
    ]
