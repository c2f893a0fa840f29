"""Each benchmark's --quick mode runs to the end and prints its figures, so the scripts cannot rot unseen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_quick(script: str, *args: str, timeout: float = 120) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
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


def test_hazard_matching_benchmark_prints_rates_ratios_and_memory_as_its_last_line() -> None:
    import json

    out = run_quick("hazard_matching.py")
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result["regio_qps"]) == {"point", "circle", "polygon"}
    assert all(rate > 0 for rate in result["regio_qps"].values())
    assert all(ratio > 0 for ratio in result["regio_over_bare"].values())
    assert result["memory_mib"] < 512
    # PostGIS is optional on a developer's machine; when it ran, its ratios are there too
    assert (result["postgis_qps"] is None) == (result["regio_over_postgis"] is None)


def test_booking_stampede_benchmark_never_overbooks_and_prints_its_figures() -> None:
    import json

    out = run_quick("booking_stampede.py")
    figures = json.loads(out.strip().splitlines()[-1])
    expected = {
        "db",
        "attempts",
        "successes",
        "capacity",
        "overbooked",
        "stampede_s",
        "rps",
        "p50_ms",
        "p99_ms",
    }
    assert expected | {"baseline_rps", "ratio"} <= set(figures)
    assert figures["db"] == "sqlite" and figures["overbooked"] == 0
    assert figures["successes"] == figures["capacity"] and figures["unexpected_statuses"] == 0
    assert figures["baseline_rps"] > 0 and figures["ratio"] > 0


def test_chat_fanout_benchmark_loses_no_message_and_prints_latencies_against_a_bare_relay() -> None:
    import json

    out = run_quick("chat_fanout.py")
    figures = json.loads(out.strip().splitlines()[-1])
    assert {"consultations", "messages", "msgs_per_s", "p50_ms", "p99_ms", "baseline_p99_ms", "lost"} <= set(
        figures
    )
    assert figures["lost"] == 0 and figures["duplicates"] == 0
    assert figures["stored"] == figures["messages"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["baseline_p99_ms"] > 0


def test_spillover_benchmark_prints_each_report_types_timing_and_ratio() -> None:
    import json

    out = run_quick("spillover_models.py", timeout=300)
    lines = out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures["reports"]) == {"flood", "chemical_leak", "epidemic", "earthquake"}
    for report in figures["reports"].values():
        assert report["median_ms"] > 0 and report["ratio"] is not None and report["affected"] > 0
    # the warning journey's budget, with room for a loaded machine
    assert max(report["median_ms"] for report in figures["reports"].values()) < 1000
    assert any(line.startswith("slowest median") for line in lines)


def test_prescription_checks_benchmark_agrees_with_a_naive_scan_and_prints_its_latencies() -> None:
    import json

    out = run_quick("prescription_checks.py")
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["prescriptions"] == 500 and figures["catalog_drugs"] >= 300
    assert figures["interaction_rows"] >= 150
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["baseline_p99_ms"] > 0
    assert figures["checks_per_s"] > 0 and figures["baseline_checks_per_s"] > 0 and figures["speedup"] > 0


@pytest.mark.slow
def test_warning_latency_benchmark_loses_no_warning_across_a_crash_and_prints_its_figures() -> None:
    import json

    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "warning_latency.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"reports", "warnings", "p50_ms", "p99_ms", "baseline_p99_ms", "lost"} <= set(figures)
    assert figures["reports"] == 16 and figures["warnings"] >= figures["reports"]
    assert figures["lost"] == 0 and figures["restarted"] is True
    assert figures["p99_ms"] > 0 and figures["baseline_p99_ms"] > 0
