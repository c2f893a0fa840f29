"""The warning-latency benchmark's --quick mode runs to the end on a real server, through a crash
and restart, and loses nothing (the full run's figures are in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "warning_latency.py"

pytestmark = pytest.mark.slow


def test_warning_latency_quick_run_loses_no_warning_across_a_crash_and_prints_its_figures() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick"], capture_output=True, text=True, timeout=400, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"reports", "warnings", "p50_ms", "p99_ms", "baseline_p99_ms", "lost"} <= set(figures)
    assert figures["reports"] == 16 and figures["warnings"] >= figures["reports"]
    assert figures["lost"] == 0 and figures["restarted"] is True
    assert figures["p99_ms"] > 0 and figures["baseline_p99_ms"] > 0
