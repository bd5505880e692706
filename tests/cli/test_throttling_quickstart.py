"""``examples/throttling-quickstart.sh`` against a real ``clarion serve`` and a real HTTP target.

The script walks the contract's sequences (throttling under /journey/orchestration, capping under /authoring)
and then sends three events through a custom action; here the action calls a local server on an ephemeral
port, which is why Clarion runs with ``CLARION_CUSTOM_ACTION_ANY_PORT=1``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_serve import CLARION, free_port, wait_until_ready
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer

SCRIPT = Path(__file__).parents[2] / "examples" / "throttling-quickstart.sh"
LAST_LINE = "Throttling quickstart: every step passed."


@pytest.fixture
def clarion(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running ``clarion serve`` (embedded mode) whose custom actions may call any port; its environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.update(
        CLARION_HOME=str(tmp_path / "home"),
        CLARION_PORT=str(free_port()),
        CLARION_SMTP_CAPTURE_PORT=str(free_port()),
        CLARION_LOG_FORMAT="json",
        CLARION_CUSTOM_ACTION_ANY_PORT="1",
    )
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([CLARION, "serve"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(f"http://127.0.0.1:{env['CLARION_PORT']}", process)
        yield env
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
