"""A real ``clarion serve`` process for the walkthrough tests (embedded mode, ephemeral ports)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cli.test_serve import CLARION, serve_environment, wait_until_ready


@contextmanager
def running_clarion(folder: Path, **settings: str) -> Iterator[dict[str, str]]:
    """Run ``clarion serve`` (home in ``folder``, ``CLARION_<NAME>`` settings); yield its environment."""
    env = serve_environment(folder)
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
