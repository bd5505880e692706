"""Where the benchmarks find the project: its root, the venv's programs, the results and the workload."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
"""The project root (the benchmarks' subprocesses run there)."""
BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python")
CLARION = str(BIN / "clarion")
RESULTS_DIR = ROOT / "bench" / "results"
WORKLOAD_DIR = ROOT / "bench" / "workload"
