"""Helpers shared by ``bench.intake``, ``bench.delivery`` and ``bench.e2e``.

- processes: start servers, sinks and workers as subprocesses (each in its own session, logs to files) and
  stop them by pid — never by name;
- CPU accounting from ``/proc/<pid>/stat`` (a process and its descendants), ``/proc/stat`` for the whole
  machine, ``wait4`` rusage for ``wrk``;
- backends: a fresh embedded home (SQLite + embedded queue) or a fresh PostgreSQL database + one Redis
  database (created, flushed and dropped by the benchmark itself);
- tenancy and campaigns: organization and credentials through the ``clarion`` CLI, the organization's
  high-throughput cap through SQL, IP pool / channel configuration / HT campaign through the HTTP API;
- ``wrk`` with a generated Lua script that counts responses by status (202 = accepted) and prints its
  latency percentiles as JSON;
- the workload: the research sample email (2.6 KB of HTML) in Clarion's template syntax and the HT body;
- rich tables and ``bench/results/NAME.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python")
CLARION = str(BIN / "clarion")
WRK = "/usr/bin/wrk"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"
"""The one Redis database the benchmarks use; flushed before and after a production run (only this one)."""
HT_PATH = "/ajo/im/executions/highthroughput"
HT_RATE = 1_000_000
"""High-throughput cap given to the benchmark organization (the default of 5,000/s would cap the bench)."""

console = Console(width=160)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the workload ------------------------------------------------------------------------------------------

_CSS = (
    "body{font-family:Arial,sans-serif;color:#333}.btn{background:#0a66c2;color:#fff;padding:12px 20px;"
    "border-radius:4px;text-decoration:none}"
) * 3

SUBJECT = "Your order {{context.order.id}} is confirmed"
TEMPLATE_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Your order {{context.order.id}}</title>'
    f"<style>{_CSS}</style></head>\n"
    '<body><table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
    '<table width="600" style="border:1px solid #eee">\n'
    '<tr><td style="padding:24px"><h1 style="font-size:22px">'
    "Hi {{context.user.firstName}} {{context.user.lastName}},</h1>\n"
    "<p>Thanks for your order <strong>{{context.order.id}}</strong>. We are getting it ready. "
    "Your plan: {{context.user.plan}}.</p>\n"
    '{{#if context.flags.vip}}<p style="color:#b8860b">As a VIP customer you get free express shipping on '
    "this and every future order.</p>{{else}}<p>Upgrade to VIP for free express shipping.</p>{{/if}}\n"
    '<table width="100%" style="border-collapse:collapse"><tr><th align="left">Item</th><th>Qty</th>'
    '<th align="right">Price</th></tr>\n'
    '{{#each context.order.items}}<tr><td style="padding:4px 0;border-bottom:1px solid #f0f0f0">'
    '{{this.name}} <span style="color:#999">({{this.sku}})</span></td><td align="center">{{this.qty}}</td>'
    '<td align="right">{{this.price}}</td></tr>\n{{/each}}</table>\n'
    '<p style="font-size:18px">Total: <strong>{{context.order.total}} '
    "{{context.order.currency}}</strong></p>\n"
    "{{#if context.flags.firstOrder}}<p>Welcome aboard! Here is 10% off your next order.</p>{{/if}}\n"
    '<p><a class="btn" href="https://example.com/orders/{{context.order.id}}'
    '?utm_campaign={{context.campaign}}">'
    "View your order</a></p>\n"
    '<p style="font-size:12px;color:#999">You receive this email because you are a customer of Example Ltd, '
    "1 Example Street, London. We respect your privacy and will never share your data with third parties. "
    "If you no longer wish to receive these emails you can\n"
    '<a href="{{context.unsubscribeUrl}}">unsubscribe here</a>. Sent to {{context.user.email}}.</p>\n'
    "</td></tr></table></td></tr></table></body></html>"
)
"""``sample_email.html`` of the research bench in Clarion's syntax: 12 ``{{context.*}}`` variables (10
distinct), one ``{{#each}}`` over 5 items, two ``{{#if}}`` blocks; renders to ~2.6 KB."""

ITEMS = [
    {"sku": "SKU-1", "name": "Analytical Engine Manual", "qty": 1, "price": 79.99},
    {"sku": "SKU-2", "name": "Punch Cards (100)", "qty": 2, "price": 25.0},
] + [{"sku": f"SKU-{i}", "name": f"Item <{i}> & co", "qty": i, "price": 9.5 + i} for i in range(3, 6)]


def context(index: int = 0) -> dict[str, Any]:
    """The ``context`` of one recipient (top-level values are objects or strings, as the API requires)."""
    return {
        "user": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": f"ada.{index}@example.org",
            "plan": "pro",
            "locale": "en-GB",
        },
        "order": {"id": f"ORD-2024-{index:06d}", "total": "129.99", "currency": "EUR", "items": ITEMS},
        "campaign": "welcome-series-2024-q4",
        "unsubscribeUrl": "https://example.com/u/abcdef0123456789",
        "flags": {"vip": True, "firstOrder": False},
    }


def ht_body(campaign_id: str, index: int = 0) -> dict[str, Any]:
    """A high-throughput request with one external recipient (its userId is its email address)."""
    return {
        "requestId": f"bench-{index:08d}",
        "campaignId": campaign_id,
        "recipients": [
            {
                "type": "external",
                "userId": f"ada.{index}@example.org",
                "namespace": "email",
                "context": context(index),
            }
        ],
    }


# --- machine and CPU accounting ----------------------------------------------------------------------------


def proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of one process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


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


def pids_named(*names: str) -> list[int]:
    """Processes whose ``comm`` is one of ``names`` (e.g. ``redis-server``, ``postgres``): read-only use."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() in names:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


PidSource = Callable[[], Sequence[int]]


@dataclass
class CpuSample:
    """CPU seconds per process of each group, and the machine's counters, at one moment."""

    at: float
    groups: dict[str, dict[int, float]]
    machine: tuple[float, float]


class CpuMeter:
    """Samples groups of processes; ``usage(a, b)`` gives each group's CPU seconds between two samples.

    A process that appears between the samples counts from zero (its whole life); one that vanished cannot
    be measured (wrk is measured by ``wait4`` instead).
    """

    def __init__(self, groups: Mapping[str, PidSource]) -> None:
        self.groups = dict(groups)

    def sample(self) -> CpuSample:
        """Read every group now."""
        groups: dict[str, dict[int, float]] = {}
        for name, source in self.groups.items():
            values = {}
            for pid in source():
                cpu = proc_cpu(pid)
                if cpu is not None:
                    values[pid] = cpu
            groups[name] = values
        return CpuSample(time.perf_counter(), groups, machine_cpu())

    @staticmethod
    def usage(start: CpuSample, end: CpuSample) -> CpuUsage:
        """CPU seconds per group between two samples."""
        groups = {}
        for name, values in end.groups.items():
            before = start.groups.get(name, {})
            groups[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in values.items())
        busy = end.machine[0] - start.machine[0]
        total = end.machine[1] - start.machine[1]
        return CpuUsage(wall=end.at - start.at, cpu=groups, machine_busy=busy, machine_total=total)


@dataclass
class CpuUsage:
    """CPU seconds per group over ``wall`` seconds, and the whole machine's busy/total CPU seconds."""

    wall: float
    cpu: dict[str, float]
    machine_busy: float
    machine_total: float

    def percent(self, name: str) -> float:
        """CPU of a group in % of one core."""
        return 100.0 * self.cpu.get(name, 0.0) / self.wall if self.wall > 0 else 0.0

    @property
    def machine_percent(self) -> float:
        """Busy share of all cores in % of one core (200 % = both cores busy)."""
        if self.machine_total <= 0:
            return 0.0
        return 100.0 * (os.cpu_count() or 1) * self.machine_busy / self.machine_total

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: seconds and % of one core per group."""
        return {
            "wall_s": round(self.wall, 3),
            "cpu_s": {name: round(value, 3) for name, value in self.cpu.items()},
            "cpu_pct_of_one_core": {name: round(self.percent(name), 1) for name in self.cpu},
            "machine_busy_pct_of_one_core": round(self.machine_percent, 1),
        }


def wait_for_quiet(*, max_wait: float, threshold_pct: float = 35.0, window: float = 2.0) -> dict[str, float]:
    """Wait (at most ``max_wait`` s) until the whole machine's busy CPU over ``window`` s is below
    ``threshold_pct`` % of one core: other users of this shared box (test suites, type checkers) otherwise
    take CPU from the measured processes. Returns how long it waited and the last busy share."""
    started = time.monotonic()
    busy_pct = 0.0
    while True:
        before = machine_cpu()
        time.sleep(window)
        after = machine_cpu()
        total = after[1] - before[1]
        busy_pct = 100.0 * (os.cpu_count() or 1) * (after[0] - before[0]) / total if total > 0 else 0.0
        waited = time.monotonic() - started
        if busy_pct < threshold_pct or waited >= max_wait:
            if busy_pct >= threshold_pct:
                console.print(
                    f"[yellow]  machine still busy ({busy_pct:.0f}% of a core) after {waited:.0f} s[/yellow]"
                )
            return {"waited_s": round(waited, 1), "busy_pct_before": round(busy_pct, 1)}


def backend_pids(kind: str) -> PidSource:
    """The database/queue server processes of a backend (read-only: their CPU is reported, not controlled)."""
    if kind == "production":
        return lambda: pids_named("redis-server", "postgres")
    return lambda: []


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (and which code: the commit and files changed since)."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg": loadavg(),
        **code_version(),
    }


def code_version() -> dict[str, Any]:
    """``git rev-parse HEAD`` and the modified files under src/ (read-only git commands)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changed_since_commit": changed}


# --- processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


class Sink:
    """``bench.smtp_sink`` in a subprocess: its port, its message count (SIGUSR1 → JSON line), its CPU."""

    def __init__(self, log_dir: Path, *, name: str = "smtp-sink", extensions: bool = True) -> None:
        self.name = name
        self.extensions = extensions
        self.log_path = log_dir / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._pending = b""

    def start(self, timeout: float = 15.0) -> Sink:
        """Start and wait for its ``… ready on HOST:PORT`` line."""
        import re

        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.smtp_sink", "--host", "127.0.0.1", "--port", "0"]
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
        import threading

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


# --- backends ----------------------------------------------------------------------------------------------


@dataclass
class Backend:
    """Where one Clarion instance keeps its data: the environment of its processes, and how to clean up."""

    kind: str  # "embedded" | "production"
    env: dict[str, str]
    database_url: str
    queue_url: str
    workdir: Path
    database_name: str = ""

    def describe(self) -> str:
        """One line for tables."""
        if self.kind == "embedded":
            return "SQLite + embedded queue"
        return f"PostgreSQL ({self.database_name}) + Redis db {self.queue_url.rsplit('/', 1)[1]}"

    def cleanup(self) -> None:
        """Drop the database and flush the Redis database this run used (production only)."""
        if self.kind == "production":
            drop_database(self.database_name)
            flush_redis(self.queue_url)


def base_env(home: Path) -> dict[str, str]:
    """The environment of Clarion processes: ours, minus inherited ``CLARION_*``, plus a home folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            "CLARION_HOME": str(home),
            "CLARION_SMTP_CAPTURE_PORT": "0",  # never collide with a developer's capture server on 2525
            "COLUMNS": "300",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def embedded_backend(workdir: Path, *, name: str = "clarion") -> Backend:
    """A fresh CLARION_HOME: SQLite database and embedded queue (migrated by the CLI on first use)."""
    home = workdir / name
    home.mkdir(parents=True)
    env = base_env(home)
    return Backend("embedded", env, f"sqlite:///{home / 'clarion.db'}", "sqlite", workdir)


def production_backend(workdir: Path, *, name: str = "clarion") -> Backend:
    """A fresh PostgreSQL database, Redis db 9 (flushed) and a Fernet key; migrated by ``clarion migrate``."""
    from clarion.kit.secretbox import new_key

    home = workdir / name
    home.mkdir(parents=True)
    database = f"clarion_bench_{secrets.token_hex(4)}"
    create_database(database)
    flush_redis(REDIS_URL)
    env = base_env(home)
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    env.update(
        {
            "CLARION_DATABASE_URL": url,
            "CLARION_QUEUE_URL": REDIS_URL,
            "CLARION_SECRET_KEY": new_key(),
            "CLARION_REDIS_PREFIX": f"bench-{secrets.token_hex(3)}",
        }
    )
    backend = Backend("production", env, url, REDIS_URL, workdir, database)
    try:
        run_clarion(["migrate"], env)
    except Exception:
        backend.cleanup()
        raise
    return backend


def make_backend(kind: str, workdir: Path, *, name: str = "clarion") -> Backend:
    """``embedded`` or ``production``."""
    if kind == "embedded":
        return embedded_backend(workdir, name=name)
    if kind == "production":
        return production_backend(workdir, name=name)
    raise ValueError(f"unknown backend {kind!r}")


def _psql(sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def create_database(name: str) -> None:
    """CREATE DATABASE (the benchmark's own, named clarion_bench_*)."""
    assert name.startswith("clarion_bench_")
    _psql(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    """DROP DATABASE … WITH (FORCE): only a database this benchmark created."""
    assert name.startswith("clarion_bench_")
    with contextlib.suppress(subprocess.CalledProcessError):
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    """FLUSHDB on the benchmark's Redis database (db 9), never any other."""
    import redis

    assert url == REDIS_URL, url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- tenancy and campaigns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    """An organization with a credential, as the gateway headers need them."""

    ims_org_id: str
    api_key: str
    token: str

    def headers(self) -> dict[str, str]:
        """The four gateway headers."""
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.api_key,
            "x-gw-ims-org-id": self.ims_org_id,
            "x-sandbox-name": "prod",
        }


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


def create_tenant(backend: Backend, *, name: str = "Bench Org", ht_rate: int = HT_RATE) -> Tenant:
    """``clarion org create --high-throughput`` + ``clarion credentials create``; then raise the HT cap."""
    import re

    created = run_clarion(["org", "create", name, "--high-throughput"], backend.env)
    match = re.search(r"x-gw-ims-org-id = (\S+@AdobeOrg)", created)
    if match is None:
        raise RuntimeError(f"cannot find the org id in: {created}")
    ims_org_id = match.group(1)
    headers = run_clarion(["credentials", "create", "--org", ims_org_id], backend.env)
    token = re.search(r"Authorization: Bearer (\S+?)'", headers)
    api_key = re.search(r"x-api-key: (\S+?)'", headers)
    if token is None or api_key is None:
        raise RuntimeError(f"cannot parse the credentials in: {headers}")
    set_ht_rate(backend.database_url, ims_org_id, ht_rate)
    return Tenant(ims_org_id, api_key.group(1), token.group(1))


def set_ht_rate(database_url: str, ims_org_id: str, rate: int) -> None:
    """``UPDATE organizations SET high_throughput_rate_per_second`` (the CLI has no flag for it yet)."""
    import asyncio

    from sqlalchemy import text

    from clarion.db.engine import create_engine

    async def update() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(
                    text(
                        "UPDATE organizations SET high_throughput_rate_per_second = :rate"
                        " WHERE ims_org_id = :org"
                    ),
                    {"rate": rate, "org": ims_org_id},
                )
                if result.rowcount != 1:
                    raise RuntimeError(f"organization {ims_org_id} not found")
        finally:
            await engine.dispose()

    asyncio.run(update())


async def provision_campaign(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    smtp_port: int,
    max_connections: int = 16,
    name: str = "bench",
) -> str:
    """IP pool → HT channel configuration → HT campaign (the sample email) → activate; the campaign id."""
    headers = tenant.headers()

    async def call(method: str, path: str, body: Any, expect: int) -> dict[str, Any]:
        response = await client.request(method, path, json=body, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    pool = await call(
        "POST",
        "/v1/ip-pools",
        {
            "name": f"{name}-pool",
            "relays": [{"host": "127.0.0.1", "port": smtp_port}],
            "maxConnections": max_connections,
        },
        201,
    )
    configuration = await call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": f"{name}-mail",
            "channel": "email",
            "highThroughput": True,
            "email": {"fromAddress": "news@shop.example", "fromName": "Example Shop", "ipPoolId": pool["id"]},
        },
        201,
    )
    campaign = await call(
        "POST",
        "/v1/campaigns",
        {
            "name": "Bench order confirmation",
            "channel": "email",
            "channelConfigurationId": configuration["id"],
            "highThroughputMode": True,
            "content": {"email": {"subject": SUBJECT, "html": TEMPLATE_HTML}},
        },
        201,
    )
    await call("POST", f"/v1/campaigns/{campaign['id']}/activate", None, 200)
    campaign_id: str = campaign["id"]
    return campaign_id


def provision_over_http(base_url: str, tenant: Tenant, *, smtp_port: int, max_connections: int = 16) -> str:
    """``provision_campaign`` against a running server."""
    import asyncio

    async def work() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await provision_campaign(
                client, tenant, smtp_port=smtp_port, max_connections=max_connections
            )

    return asyncio.run(work())


def serve(backend: Backend, *, port: int, workers: int, name: str = "clarion-serve") -> Service:
    """``clarion serve --port P --workers N`` on the backend, started and ready (``/healthz``)."""
    service = Service(
        name,
        [CLARION, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=backend.env,
        log_dir=backend.workdir,
    ).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", service=service)
    except Exception:
        service.stop()
        raise
    return service


def ledger_counts(database_url: str) -> dict[str, int]:
    """Rows of the ``messages`` ledger by status."""
    import asyncio

    return asyncio.run(ledger_counts_async(database_url))


async def ledger_counts_async(database_url: str, engine: Any = None) -> dict[str, int]:
    """Rows of the ``messages`` ledger by status (reusing ``engine`` when given)."""
    from sqlalchemy import text

    from clarion.db.engine import create_engine

    own = engine is None
    engine = engine or create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT status, count(*) FROM messages GROUP BY status"))
            ).all()
    finally:
        if own:
            await engine.dispose()
    return {str(status): int(count) for status, count in rows}


def metric_total(base_url: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples matching ``labels`` (e.g. HTTP 202s of the HT route)."""
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            total += float(value)
    return total


# --- wrk ---------------------------------------------------------------------------------------------------

_WRK_LUA = """-- generated by bench/common.py: POST one body, count responses by status, print JSON when done
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do merged[status] = (merged[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(merged) do table.insert(parts, string.format('"%%d":%%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%%d,"requests":%%d,"bytes":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"min":%%d,"mean":%%.1f,"max":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d},' ..
    '"statuses":{%%s}}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), table.concat(parts, ",")))
end
"""


def write_wrk_script(path: Path, body: bytes, headers: Mapping[str, str]) -> Path:
    """The Lua script for one body and header set."""
    lines = [
        f'wrk.headers["{key}"] = "{value}"'
        for key, value in {"Content-Type": "application/json", **headers}.items()
    ]
    decoded = body.decode()
    assert "]==]" not in decoded
    path.write_text(_WRK_LUA % {"body": decoded, "headers": "\n".join(lines)})
    return path


@dataclass
class WrkResult:
    """One wrk run: counts, latency, and wrk's own CPU (from ``wait4``)."""

    connections: int
    threads: int
    duration_s: float
    requests: int
    accepted: int
    statuses: dict[str, int]
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    cpu_s: float

    @property
    def accepted_per_s(self) -> float:
        """202 responses per second."""
        return self.accepted / self.duration_s if self.duration_s else 0.0

    @property
    def non_2xx(self) -> int:
        """Responses that were not 2xx."""
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts."""
        return sum(n for kind, n in self.errors.items() if kind != "status")

    @property
    def cpu_pct(self) -> float:
        """wrk's CPU in % of one core."""
        return 100.0 * self.cpu_s / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived figures."""
        return {
            **asdict(self),
            "accepted_per_s": round(self.accepted_per_s, 1),
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "cpu_pct_of_one_core": round(self.cpu_pct, 1),
        }


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    duration: float,
    threads: int = 1,
    timeout: float = 10.0,
    log: Path | None = None,
) -> WrkResult:
    """Run wrk (bounded by ``duration``); parse its JSON line; wrk's CPU comes from ``wait4``."""
    argv = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out_path = log or script.with_suffix(".out")
    with out_path.open("w+b") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + duration + timeout + 30
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    line = next((row for row in text.splitlines() if row.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result ({process.returncode}):\n{text}")
    data = json.loads(line.removeprefix("WRKJSON "))
    latency = data["latency_us"]
    statuses = {str(key): int(value) for key, value in data["statuses"].items()}
    return WrkResult(
        connections=connections,
        threads=threads,
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        accepted=statuses.get("202", 0),
        statuses=statuses,
        errors=data["errors"],
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        mean_ms=latency["mean"] / 1000,
        cpu_s=(usage.ru_utime + usage.ru_stime) if usage is not None else 0.0,
    )


# --- output ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh folder under /tmp for one benchmark run (logs, homes, scripts); removed unless ``keep``."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=f"clarion-bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            console.print(f"[dim]work folder kept: {path}[/dim]")
        else:
            shutil.rmtree(path, ignore_errors=True)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str = "") -> Table:
    """A rich table with right-aligned numbers."""
    out = Table(title=title, caption=caption or None, caption_justify="left")
    for index, column in enumerate(columns):
        out.add_column(column, justify="left" if index == 0 else "right", overflow="fold", no_wrap=index == 0)
    for row in rows:
        out.add_row(*(fmt(value) for value in row))
    return out


def fmt(value: Any) -> str:
    """Numbers with thousands separators; floats with one decimal below 100, none above."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def write_results(name: str, data: Mapping[str, Any]) -> Path:
    """``bench/results/NAME.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def run_modes(
    name: str,
    args: Any,
    settings: Mapping[str, Any],
    run: Callable[[str, Any, Path], dict[str, Any]],
    report: Callable[[dict[str, Any]], Targets],
) -> None:
    """Run ``run(kind, args, work)`` for each of ``args.modes`` in one work folder, print ``report`` and
    write ``bench/results/<args.output>.json`` (settings, machine, load averages, each mode, the targets)."""
    results: dict[str, Any] = {
        "benchmark": name,
        "settings": dict(settings),
        "machine": machine_info(),
        "loadavg_start": loadavg(),
        "modes": {},
    }
    with workdir(name, keep=args.keep) as work:
        for kind in (mode.strip() for mode in args.modes.split(",") if mode.strip()):
            results["modes"][kind] = run(kind, args, work)
    results["loadavg_end"] = loadavg()
    results["targets"] = report(results).checks
    path = write_results(args.output, results)
    console.print(
        f"load average: start {results['loadavg_start']}, end {results['loadavg_end']}; wrote {path}"
    )


def verdict(value: float, target: float, *, at_least: bool = True) -> str:
    """``met`` / ``MISSED`` against a target."""
    ok = value >= target if at_least else value <= target
    return "met" if ok else "MISSED"


@dataclass
class Targets:
    """Target values checked by a benchmark, with their outcome."""

    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, value: float, target: float, *, at_least: bool = True, unit: str = "") -> str:
        """Record one check; returns met/MISSED."""
        outcome = verdict(value, target, at_least=at_least)
        self.checks.append(
            {
                "target": name,
                "value": round(value, 3),
                "goal": f"{'≥' if at_least else '≤'} {target:g}{unit}",
                "outcome": outcome,
            }
        )
        return outcome

    def render(self, title: str = "Targets") -> Table:
        """The checks as a table."""
        return table(
            title,
            ["target", "value", "goal", "outcome"],
            [[c["target"], c["value"], c["goal"], c["outcome"]] for c in self.checks],
        )


# --- profiling (py-spy, installed into the venv: ``pip install py-spy``) -----------------------------------

PY_SPY = str(BIN / "py-spy")


class Profiler:
    """``py-spy record --format raw --gil`` on some processes for a while.

    Only samples of the thread holding the GIL are kept: on this VM py-spy's idle detection counts threads
    blocked in ``SimpleQueue.get`` (aiosqlite's and the SQLite queue's threads) as busy, which buries the
    real costs. C code that releases the GIL (sqlite3 stepping a statement) is therefore not in the profile.
    """

    def __init__(
        self, pids: Sequence[int], *, seconds: float, out_dir: Path, label: str, rate: int = 200
    ) -> None:
        self.paths = [out_dir / f"profile-{label}-{pid}.txt" for pid in pids]
        self.processes = [
            subprocess.Popen(
                [
                    PY_SPY,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    f"{max(1, round(seconds))}",
                    "--rate",
                    str(rate),
                    "--format",
                    "raw",
                    "--nolineno",
                    "--gil",
                    "-o",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            for pid, path in zip(pids, self.paths, strict=True)
        ]

    @staticmethod
    def available() -> bool:
        """True when py-spy is installed in the venv."""
        return Path(PY_SPY).exists()

    def wait(self, timeout: float = 60.0) -> list[Path]:
        """Wait for the recorders; the raw files that were written."""
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGINT)
                process.wait(10)
        return [path for path in self.paths if path.exists()]


def _frame_key(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py)`` → ``pkg/mod.py:func``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{where}:{name}" if where else name


def _area(key: str) -> str:
    """A coarse owner of a frame: ``clarion.<pkg>``, a third-party package, or the stdlib module."""
    path = key.split(":", 1)[0]
    parts = path.split("/")
    if parts[0] == "clarion" and len(parts) > 1:
        return "clarion." + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py")


def summarize_profile(paths: Sequence[Path], *, top: int = 20) -> dict[str, Any]:
    """Self and inclusive shares of the sampled (non-idle) stacks, by function and by package."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    areas: dict[str, int] = {}
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame_key(frame) for frame in stack.split(";") if " (" in frame]
            if not frames:
                continue
            total += count
            leaf = frames[-1]
            self_counts[leaf] = self_counts.get(leaf, 0) + count
            areas[_area(leaf)] = areas.get(_area(leaf), 0) + count
            for key in set(frames):
                inclusive[key] = inclusive.get(key, 0) + count

    def ranked(counts: dict[str, int], limit: int) -> list[list[Any]]:
        ordered = sorted(counts.items(), key=lambda item: -item[1])[:limit]
        return [[key, round(100.0 * n / total, 1)] for key, n in ordered] if total else []

    return {
        "samples": total,
        "self_pct": ranked(self_counts, top),
        "inclusive_pct": ranked(inclusive, top + 15),
        "self_pct_by_package": ranked(areas, 15),
    }


def print_profile(title: str, summary: Mapping[str, Any], *, top: int = 15) -> None:
    """Top self costs, top inclusive costs and self share by package."""
    console.print(
        table(
            f"{title}: self time (leaf frames), {summary['samples']:,} samples",
            ["function", "%"],
            summary["self_pct"][:top],
        )
    )
    console.print(table(f"{title}: self time by package", ["package", "%"], summary["self_pct_by_package"]))
    console.print(table(f"{title}: inclusive time", ["function", "%"], summary["inclusive_pct"][: top + 10]))
