"""``clarion feedback`` as an operator runs it: a real process listening for bounces, stopped by SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from tests.cli.test_serve import CLARION, free_port, serve_environment


def wait_for_smtp(port: int, process: subprocess.Popen[bytes], deadline: float = 60.0) -> None:
    """Return once something accepts connections on ``port``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, f"clarion feedback exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the feedback listener did not start")


async def test_clarion_feedback_listens_refuses_foreign_domains_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = serve_environment(tmp_path)
    subprocess.run([CLARION, "migrate"], env=env, check=True, capture_output=True)
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [CLARION, "feedback", "--port", str(port), "--metrics-port", str(metrics_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_smtp(port, process)
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as client:
            await client.mail("")
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
                await client.rcpt("b-anything@bounces.nobody.example")
        assert refused.value.code == 550
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert "# TYPE clarion_feedback_reports_total counter" in scrape.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read().decode() if process.stdout else ""
    assert f"feedback listener on smtp://127.0.0.1:{port}" in output
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in output


def test_clarion_feedback_has_help() -> None:
    done = subprocess.run([CLARION, "feedback", "--help"], capture_output=True, text=True, check=True)
    assert "--port" in done.stdout
    assert "--metrics-port" in done.stdout
    assert "bounce" in done.stdout.lower()
