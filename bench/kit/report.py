"""What a benchmark shows and keeps: rich tables, the targets and their outcome, the machine and code it
ran on, and ``bench/results/NAME.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.kit.paths import RESULTS_DIR, ROOT

console = Console(width=160)


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str = "",
    left: Collection[str] = (),
) -> Table:
    """A rich table with right-aligned numbers (the first column and those named in ``left``: left)."""
    out = Table(title=title, caption=caption or None, caption_justify="left")
    for index, column in enumerate(columns):
        out.add_column(
            column,
            justify="left" if index == 0 or column in left else "right",
            overflow="fold",
            no_wrap=index == 0,
        )
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
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


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
