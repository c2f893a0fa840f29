"""Each benchmark's --quick mode runs to the end and prints its figures, so the scripts cannot rot unseen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_quick(script: str, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_audit_append_benchmark_prints_append_rate_ratio_and_sealing_rate() -> None:
    out = run_quick("audit_append.py")
    assert "baseline plain INSERT:" in out and "audit record():" in out
    ratio = next(line for line in out.splitlines() if line.startswith("ratio record()/baseline:"))
    assert float(ratio.rsplit(":", 1)[1]) > 0
    assert "sealing: 208 entries" in out and "entries/s" in out


def test_audit_append_benchmark_runs_on_postgresql_too() -> None:
    url = os.environ.get("REGIO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("REGIO_TEST_DATABASE_URL not set: PostgreSQL benchmark skipped")
    if "+asyncpg" not in url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1).replace("+psycopg", "+asyncpg")
    out = run_quick("audit_append.py", "--postgres", url)
    assert "backend: postgresql" in out and "ratio record()/baseline:" in out
