"""Subprocesses of a benchmark: started each in its own session with its log in a file, stopped by pid —
never by name — with their descendants; the ``clarion`` CLI; waiting for a server to answer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from bench.kit.paths import CLARION, ROOT
from bench.kit.report import console


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _parents() -> dict[int, int]:
    """pid → parent pid of every process."""
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                found[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


class Service:
    """A subprocess started in its own session, logging to a file, stopped by pid."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id (the service must be started)."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> Service:
        """Start the process."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """The process and its descendants (uvicorn workers, multiprocessing helpers)."""
        return tree_pids(self.pid) if self.alive() else []

    def log_size(self) -> int:
        """The log's length in bytes so far (0 before the first start)."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_for_log(self, text: str, timeout: float = 30.0, *, since: int = 0) -> None:
        """Wait until ``text`` shows in the log after byte ``since`` (a server's ``… ready`` line; pass
        ``log_size()`` taken before a restart); fail if the process exits first."""
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_bytes()[since:].decode(errors="replace"):
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 45.0) -> int | None:
        """SIGTERM, wait (graceful shutdown), then SIGKILL the process and its descendants, one by one."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            family = tree_pids(self.process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                console.print(f"[yellow]{self.name} did not stop in {timeout:g} s: killing it[/yellow]")
                for pid in reversed(family):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        """The end of the log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(url: str, *, timeout: float = 60.0, service: Service | None = None) -> None:
    """Poll ``url`` until it answers 200 (fail early if ``service`` died)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if service is not None and not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.2)
    tail = service.log_tail() if service is not None else ""
    raise RuntimeError(f"{url} not ready after {timeout:g} s ({last})\n{tail}")


def run_clarion(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 120.0) -> str:
    """Run a ``clarion`` CLI command; its stdout (raises with the output on failure)."""
    done = subprocess.run(
        [CLARION, *args], env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"clarion {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout
