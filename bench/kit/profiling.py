"""Profiling with py-spy (``.venv/bin/pip install py-spy``; only ``--profile`` needs it): ``record --gil``
on some processes, then the top self and inclusive costs by function and by package."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.kit.paths import BIN
from bench.kit.report import console, table

PY_SPY = str(BIN / "py-spy")
STDLIB_MARKER = f"/lib/python{sys.version_info.major}.{sys.version_info.minor}/"
"""Where the standard library's frames live (the subprocesses run this same interpreter)."""


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
    for marker in ("site-packages/", "/src/", STDLIB_MARKER):
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
