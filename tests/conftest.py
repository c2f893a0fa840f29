"""Fixtures: every database test runs on SQLite, and on PostgreSQL when REGIO_TEST_DATABASE_URL is set.

Each backend gets a schema once per test session (from the models; tests/core/test_migrations.py
proves the Alembic migrations build the same schema on both engines); each test gets a fresh
async Database and the tables are emptied after it. Tests that race use separate connections from that Database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import regio.all_models  # noqa: F401
from regio.app import create_app
from regio.config import Settings
from regio.core.db import Base, Database

PG_ENV = "REGIO_TEST_DATABASE_URL"
REQUIRE_PG_ENV = "REGIO_REQUIRE_POSTGRES"
BIN = Path(sys.executable).parent


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


def _sync_url(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg").replace("+aiosqlite", "")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "regio-test.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    _create_schema(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get(REQUIRE_PG_ENV):
            pytest.fail(f"{REQUIRE_PG_ENV} is set but {PG_ENV} is not: PostgreSQL tests would be skipped")
        pytest.skip(f"{PG_ENV} not set: PostgreSQL tests skipped")
    parsed = make_url(base)
    name = f"regio_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(_sync_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get(REQUIRE_PG_ENV):
            pytest.fail(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = parsed.set(database=name).render_as_string(hide_password=False)
    if "+asyncpg" not in url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1).replace("+psycopg", "+asyncpg")
    _create_schema(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


def _create_schema(url: str) -> None:
    engine = create_engine(_sync_url(url))
    Base.metadata.create_all(engine)
    engine.dispose()


def _empty_tables(url: str) -> None:
    engine = create_engine(_sync_url(url))
    tables = [table.name for table in Base.metadata.sorted_tables]
    if not tables:
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                connection.execute(text(f'DELETE FROM "{name}"'))
            if _has_sqlite_sequence(connection):
                connection.execute(text("DELETE FROM sqlite_sequence"))
    engine.dispose()


def _has_sqlite_sequence(connection: object) -> bool:
    result = connection.execute(  # type: ignore[attr-defined]
        text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
    )
    return result.first() is not None


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        run_background=False,
        secret_key="test-secret-key-" + "x" * 32,
        data_key="test-data-key-" + "y" * 32,
        webhook_secret="test-webhook-secret-" + "z" * 32,
        login_max_failures=5,
        # Most tests confirm holds directly; payment's tests turn this off and pay.
        booking_confirm_without_payment=True,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()
        _empty_tables(settings.database_url)


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return create_app(settings=settings, database=db)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(folder: Path, database_url: str) -> Iterator[str]:
    """Migrates the database, loads the demo and serves it, as `make demo` does."""
    port = _free_port()
    env = {
        **os.environ,
        "REGIO_DATABASE_URL": database_url,
        "REGIO_ENVIRONMENT": "test",
        "REGIO_BASE_URL": f"http://127.0.0.1:{port}",
        # Browser tests set up consultations by confirming holds; the payment journey pays instead.
        "REGIO_BOOKING_CONFIRM_WITHOUT_PAYMENT": "true",
    }
    subprocess.run([BIN / "regio", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([BIN / "regio", "demo", "load"], env=env, check=True, capture_output=True)
    log = open(folder / "server.log", "wb")  # kept open for the server's lifetime
    server = subprocess.Popen(
        [BIN / "regio", "serve", "--no-migrate", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SQLite database with the demo, served as `make demo` serves it."""
    folder = tmp_path_factory.mktemp("live")
    yield from _serve(folder, f"sqlite+aiosqlite:///{folder / 'regio.sqlite3'}")


@pytest.fixture(scope="session")
def live_server_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same on a fresh PostgreSQL database (for the journeys that must work on both engines)."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get(REQUIRE_PG_ENV):
            pytest.fail(f"{REQUIRE_PG_ENV} is set but {PG_ENV} is not: PostgreSQL tests would be skipped")
        pytest.skip(f"{PG_ENV} not set: PostgreSQL tests skipped")
    name = f"regio_live_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(_sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    if "+asyncpg" not in url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1).replace("+psycopg", "+asyncpg")
    try:
        yield from _serve(tmp_path_factory.mktemp("live_pg"), url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=_backends())
def live_server_any(request: pytest.FixtureRequest) -> str:
    """The live server on each engine in turn."""
    return str(request.getfixturevalue("live_server" if request.param == "sqlite" else "live_server_pg"))
