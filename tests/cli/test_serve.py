"""``clarion serve`` in embedded mode, as a newcomer runs it: a real process, real sockets."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

CLARION = str(Path(sys.executable).with_name("clarion"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


def serve_environment(folder: Path) -> dict[str, str]:
    """The environment of a ``clarion serve`` subprocess: embedded defaults, home in ``folder``, free ports
    (none of the caller's ``CLARION_*`` settings leak in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.update(
        CLARION_HOME=str(folder / "home"),
        CLARION_PORT=str(free_port()),
        CLARION_SMTP_CAPTURE_PORT=str(free_port()),
        CLARION_FEEDBACK_SMTP_PORT=str(free_port()),
        CLARION_LOG_FORMAT="json",
    )
    return env


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    return serve_environment(tmp_path)


@pytest.fixture
def server(embedded_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process = subprocess.Popen(
        [CLARION, "serve"], env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{embedded_env['CLARION_PORT']}"
    try:
        wait_until_ready(base_url, process)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_newcomer_flow(
    server: tuple[subprocess.Popen[bytes], str], embedded_env: dict[str, str]
) -> None:
    process, base_url = server
    home = Path(embedded_env["CLARION_HOME"])
    credentials = json.loads((home / "credentials.json").read_text())
    assert set(credentials) == {"orgId", "sandboxName", "apiKey", "accessToken", "baseUrl"}
    assert credentials["baseUrl"] == base_url
    assert (home / "credentials.json").stat().st_mode & 0o077 == 0
    headers = {
        "Authorization": f"Bearer {credentials['accessToken']}",
        "x-api-key": credentials["apiKey"],
        "x-gw-ims-org-id": credentials["orgId"],
        "x-sandbox-name": credentials["sandboxName"],
    }
    async with httpx.AsyncClient(base_url=base_url) as client:
        health = await client.get("/ajo/im/health", headers=headers)
        assert (health.status_code, health.json()) == (200, {"status": "UP"})
        sandboxes = await client.get("/v1/sandboxes", headers=headers)
        assert [item["name"] for item in sandboxes.json()["items"]] == ["prod"]

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Welcome"
    message.set_content("hello from the test")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=int(embedded_env["CLARION_SMTP_CAPTURE_PORT"]))
    # Mail that no organization sent is the operator's: not the development organization's outbox.
    listing = subprocess.run(
        [CLARION, "outbox"], env=embedded_env, capture_output=True, text=True, check=True
    )
    assert "Welcome" not in listing.stdout
    listing = subprocess.run(
        [CLARION, "outbox", "--unattributed"], env=embedded_env, capture_output=True, text=True, check=True
    )
    assert "Welcome" in listing.stdout
    assert "b@example.com" in listing.stdout

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so supervisors see why it ended.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    output = process.stdout.read().decode() if process.stdout else ""
    assert '"event": "clarion_stopped"' in output
    assert (
        f"curl -s {base_url}/ajo/im/health -H 'Authorization: Bearer {credentials['accessToken']}'" in output
    )
    # The welcome text carries a one-time sign-in link to the console of the development organization.
    link = re.search(rf"{re.escape(base_url)}/console/login\?code=(\S+)", output)
    assert link is not None, output


async def test_the_welcome_link_signs_in_to_the_console(
    server: tuple[subprocess.Popen[bytes], str], embedded_env: dict[str, str]
) -> None:
    _, base_url = server
    printed = subprocess.run(
        [CLARION, "console", "login"], env=embedded_env, capture_output=True, text=True, check=True
    ).stdout  # without --org: the development organization, as make run's own link
    code = re.search(r"/console/login\?code=(\S+)", printed)
    assert code is not None, printed
    async with httpx.AsyncClient(base_url=base_url) as browser:
        confirm = await browser.get(f"/console/login?code={code.group(1)}")
        assert confirm.status_code == 200
        login_token = re.search(r'name="login_token" value="([^"]+)"', confirm.text)
        assert login_token is not None
        signed_in = await browser.post(
            "/console/login/code",
            data={"code": code.group(1), "login_token": login_token.group(1)},
            headers={"Origin": base_url},
        )
        assert signed_in.status_code == 303
        home = await browser.get("/console/")
        assert home.status_code == 200
        assert "Overview" in home.text


def test_restart_refreshes_the_token(embedded_env: dict[str, str]) -> None:
    base_url = f"http://127.0.0.1:{embedded_env['CLARION_PORT']}"
    tokens = []
    for _ in range(2):
        process = subprocess.Popen(
            [CLARION, "serve"], env=embedded_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_ready(base_url, process)
            credentials = json.loads((Path(embedded_env["CLARION_HOME"]) / "credentials.json").read_text())
            tokens.append(credentials)
            headers = {
                "Authorization": f"Bearer {credentials['accessToken']}",
                "x-api-key": credentials["apiKey"],
                "x-gw-ims-org-id": credentials["orgId"],
            }
            assert httpx.get(f"{base_url}/v1/organization", headers=headers).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert tokens[0]["orgId"] == tokens[1]["orgId"]
    assert tokens[0]["apiKey"] == tokens[1]["apiKey"]
    assert tokens[0]["accessToken"] != tokens[1]["accessToken"]


def test_several_api_processes(embedded_env: dict[str, str]) -> None:
    base_url = f"http://127.0.0.1:{embedded_env['CLARION_PORT']}"
    process = subprocess.Popen(
        [CLARION, "serve", "--workers", "2"],
        env=embedded_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(base_url, process)
        credentials = json.loads((Path(embedded_env["CLARION_HOME"]) / "credentials.json").read_text())
        headers = {
            "Authorization": f"Bearer {credentials['accessToken']}",
            "x-api-key": credentials["apiKey"],
            "x-gw-ims-org-id": credentials["orgId"],
        }
        with httpx.Client(base_url=base_url) as client:
            for _ in range(20):
                assert client.get("/ajo/im/health", headers=headers).json() == {"status": "UP"}
            # Each scrape may land on either process; the multiprocess collector sums both.
            metrics = client.get("/metrics").text
        line = next(
            row
            for row in metrics.splitlines()
            if row.startswith('clarion_http_requests_total{method="GET",route="/ajo/im/health",status="200"}')
        )
        assert float(line.rsplit(" ", 1)[1]) == 20.0
        with socket.create_connection(
            ("127.0.0.1", int(embedded_env["CLARION_SMTP_CAPTURE_PORT"])), timeout=5
        ) as smtp:
            assert smtp.recv(100).startswith(b"220")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def test_readme_high_throughput_quickstart(
    server: tuple[subprocess.Popen[bytes], str], embedded_env: dict[str, str]
) -> None:
    script = Path(__file__).parents[2] / "examples" / "ht-quickstart.sh"
    env = embedded_env | {"PATH": f"{Path(CLARION).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "Live"
    assert json.loads(lines[1])["requestId"] == "req-1"
    deadline = time.monotonic() + 15
    listing = ""
    while "Order A-1001 confirmed" not in listing and time.monotonic() < deadline:
        listing = subprocess.run([CLARION, "outbox"], env=embedded_env, capture_output=True, text=True).stdout
    assert "Order A-1001 confirmed" in listing
    assert "ada@example.com" in listing
