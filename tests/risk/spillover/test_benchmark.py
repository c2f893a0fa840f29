"""The spill-over benchmark's --quick mode runs to the end, prints its figures and stays within budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "spillover_models.py"


def test_the_quick_benchmark_prints_each_reports_timing_and_ratio() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures["reports"]) == {"flood", "chemical_leak", "epidemic", "earthquake"}
    for report in figures["reports"].values():
        assert report["median_ms"] > 0 and report["ratio"] is not None and report["affected"] > 0
    # the journey's budget, with room for a loaded machine
    assert max(report["median_ms"] for report in figures["reports"].values()) < 1000
    assert any(line.startswith("slowest median") for line in lines)
