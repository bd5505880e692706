"""CPU accounting: ``/proc/<pid>/stat`` for groups of processes (a process and its descendants),
``/proc/stat`` for the whole machine, and waiting for the shared machine to go quiet before a measure."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.kit.report import console

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of one process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


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
