"""`regio care import drugs FILE.csv`: every row validated first; one bad row reports line, column and
reason and writes nothing; a good file adds and updates by code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from regio.care.prescription import catalog
from regio.care.prescription.models import Drug
from regio.cli import app as cli_app
from regio.config import Settings, get_settings
from regio.core.db import Database

HEADER = ",".join(catalog.COLUMNS)
ROW = "{code},测试药{code},testdrug {code},,片剂,10mg,C08CA01,rx,甲,none,mg,5,10,,,caution,avoid,0,测试来源"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGIO_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REGIO_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _cli(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def _count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Drug)) or 0)


async def test_one_bad_row_is_reported_by_line_and_column_and_nothing_is_written(
    db: Database, cli_env: None, tmp_path: Path
) -> None:
    path = tmp_path / "drugs.csv"
    bad = ROW.format(code="T0002").replace("C08CA01", "C8CA1")
    path.write_text("\n".join([HEADER, ROW.format(code="T0001"), bad]) + "\n", encoding="utf-8")
    code, _, err = await _cli("care", "import", "drugs", str(path))
    assert code == 1
    assert "line 3, atc" in err and "nothing was imported" in err
    assert await _count(db) == 0


async def test_a_good_file_adds_then_updates_by_code_and_reads_gb18030(
    db: Database, cli_env: None, tmp_path: Path
) -> None:
    path = tmp_path / "drugs.csv"
    path.write_bytes(
        ("\n".join([HEADER, ROW.format(code="T0001"), ROW.format(code="T0002")]) + "\n").encode("gb18030")
    )
    code, out, _ = await _cli("care", "import", "drugs", str(path))
    assert code == 0 and "2 drugs added, 0 updated" in out
    changed = ROW.format(code="T0002").replace(",5,10,", ",5,20,")
    path.write_text("\n".join([HEADER, changed]) + "\n", encoding="utf-8-sig")
    code, out, _ = await _cli("care", "import", "drugs", str(path))
    assert code == 0 and "0 drugs added, 1 updated" in out
    async with db.session() as session:
        row = await session.scalar(select(Drug).where(Drug.code == "T0002"))
    assert row is not None and row.adult_max_daily == 20 and row.name_zh == "测试药T0002"
    assert await _count(db) == 2


async def test_an_unreadable_file_exits_2(cli_env: None, tmp_path: Path) -> None:
    code, _, err = await _cli("care", "import", "drugs", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err
