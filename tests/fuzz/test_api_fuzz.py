"""Schemathesis throws schema-shaped and malformed requests at every operation of the live API.

Whatever it sends, the answer is never a 5xx. It runs as a visitor and as the demo platform
admin, the role that reaches the most operations. The run is bounded (examples per operation)
so that it stays part of every `make test`; run `schemathesis` by hand with more for a deep soak.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from regio.demo import DEMO_PASSWORD

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def _token(live_server: str, username: str) -> str:
    answer = httpx.post(
        f"{live_server}/api/auth/token", json={"username": username, "password": DEMO_PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _fuzz(live_server: str, tmp_path: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "12",
        "--seed",
        "20261201",
        "--request-timeout",
        "30",
        "--report-dir",
        str(tmp_path),
    ]
    for header in headers:
        command += ["--header", header]
    # run in a scratch folder: schemathesis keeps a cache in its working directory
    return subprocess.run(command, capture_output=True, text=True, timeout=540, check=False, cwd=tmp_path)


@pytest.mark.slow
def test_no_operation_gives_a_visitor_a_server_error(live_server: str, tmp_path: Path) -> None:
    result = _fuzz(live_server, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "passed" in result.stdout


@pytest.mark.slow
def test_no_operation_gives_an_administrator_a_server_error(live_server: str, tmp_path: Path) -> None:
    token = _token(live_server, "admin")
    result = _fuzz(live_server, tmp_path, f"Authorization: Bearer {token}")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "passed" in result.stdout
