"""Running a benchmark: its work folder, the options every long benchmark shares, and one run per backend
mode with the results written in one place."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.kit.report import Targets, console, loadavg, machine_info, write_results


@contextlib.contextmanager
def workdir(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh ``clarion-bench-NAME-*`` folder in the system's temporary directory (``tempfile``) for one
    run (logs, homes, scripts); removed unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=f"clarion-bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            console.print(f"[dim]work folder kept: {path}[/dim]")
        else:
            shutil.rmtree(path, ignore_errors=True)


def option_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` shows the benchmark's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_run_options(
    parser: argparse.ArgumentParser, *, output: str, modes: str | None = None, quiet_wait: bool = True
) -> None:
    """``--modes`` (when it has a default), ``--quiet-wait``, ``--keep`` and ``--output``."""
    if modes is not None:
        parser.add_argument("--modes", default=modes, help="embedded, production or both (comma-separated)")
    if quiet_wait:
        parser.add_argument(
            "--quiet-wait", type=float, default=60.0, help="max s to wait for an idle machine"
        )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, scripts, profiles)")
    parser.add_argument("--output", default=output, help="results file name (bench/results/NAME.json)")


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
