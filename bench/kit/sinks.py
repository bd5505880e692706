"""The SMTP ends of a delivery benchmark: ``bench.smtp_sink`` in a subprocess (the fast sink), and a
listener that accepts connections and never greets (a stalled relay that keeps the worker idle)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench.kit.paths import PYTHON, ROOT


class Sink:
    """``bench.smtp_sink`` (or another ``module`` speaking the same protocol: ``… ready on HOST:PORT``, and
    a ``{"messages": N}`` line on SIGUSR1) in a subprocess: its port, its message count, its CPU."""

    def __init__(
        self,
        log_dir: Path,
        *,
        name: str = "smtp-sink",
        extensions: bool = True,
        module: str = "bench.smtp_sink",
        args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.extensions = extensions
        self.module = module
        self.args = list(args)
        self.log_path = log_dir / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._pending = b""

    def start(self, timeout: float = 15.0) -> Sink:
        """Start and wait for its ``… ready on HOST:PORT`` line."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", self.module, "--host", "127.0.0.1", "--port", "0", *self.args]
            + ([] if self.extensions else ["--no-extensions"]),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        line = self._readline(timeout)
        match = re.search(r"ready\D*?(?:[\d.]+:)?(\d+)\s*$", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {line!r}")
        self.port = int(match.group(1))
        return self

    def _readline(self, timeout: float) -> str:
        """The next stdout line (unbuffered reads on the pipe, so ``select`` sees every byte)."""
        assert self.process is not None
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                return ""
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(errors="replace")

    @property
    def pid(self) -> int:
        """The sink's process id."""
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The sink's pid while it runs."""
        return [self.pid] if self.process is not None and self.process.poll() is None else []

    def count(self) -> int:
        """Messages received so far (asks with SIGUSR1, reads the JSON line it prints)."""
        os.kill(self.pid, signal.SIGUSR1)
        line = self._readline(10.0)
        if not line.startswith("{"):
            raise RuntimeError(f"{self.name} did not report its count: {line!r}")
        return int(json.loads(line)["messages"])

    def stop(self) -> dict[str, int]:
        """Stop; return the final counters."""
        if self.process is None:
            return {}
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            out, _ = self.process.communicate(timeout=10)
        out = self._pending + (out or b"")
        for line in reversed(out.decode(errors="replace").splitlines()):
            if line.startswith("{"):
                counts: dict[str, int] = json.loads(line)
                return counts
        return {}


class StalledSmtp:
    """A listener that accepts TCP connections and never answers (no SMTP greeting), in a thread here.

    A Clarion worker whose IP pool points at it blocks on its first sends until the SMTP timeout (30 s),
    so delivery uses ~no CPU while intake is measured. ``stop`` closes every connection, which ends those
    sends at once (as ``retry``).
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="stalled-smtp", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        return len(self._held)

    def stop(self) -> dict[str, int]:
        """Close the listener and every held connection."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._held:
            with contextlib.suppress(OSError):
                connection.close()
        self._thread.join(5)
        return {"connections": len(self._held)}
