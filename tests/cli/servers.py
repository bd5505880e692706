"""A real ``clarion serve`` process for the walkthrough tests (embedded mode, ephemeral ports)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cli.test_serve import CLARION, free_port, wait_until_ready


@contextmanager
def running_clarion(folder: Path, **settings: str) -> Iterator[dict[str, str]]:
    """Run ``clarion serve`` (home in ``folder``, ``CLARION_<NAME>`` settings); yield its environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.update(
        CLARION_HOME=str(folder / "home"),
        CLARION_PORT=str(free_port()),
        CLARION_SMTP_CAPTURE_PORT=str(free_port()),
        CLARION_LOG_FORMAT="json",
    )
    env.update({f"CLARION_{name.upper()}": value for name, value in settings.items()})
    with (folder / "server.log").open("wb") as output:
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
