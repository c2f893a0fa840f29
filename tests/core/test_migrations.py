"""The Alembic migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import regio.all_models  # noqa: F401
from regio.cli import upgrade_database
from regio.core.db import Base


def _diff(sync_url: str) -> list[object]:
    engine = create_engine(sync_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    return list(differences)


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "migrated.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    assert _diff(f"sqlite:///{path}") == []


def test_migrations_match_the_models_on_postgresql(postgres_url: str) -> None:
    # A database of its own: the shared test database was built from the models, not migrated.
    base = make_url(postgres_url.replace("+asyncpg", "+psycopg"))
    name = f"regio_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        target = base.set(database=name)
        upgrade_database(target.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False))
        assert _diff(target.render_as_string(hide_password=False)) == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_migration_file_is_named_by_date_revision_and_purpose() -> None:
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    names = [p.name for p in versions.glob("*.py")]
    assert all(len(name.split("_", 2)) == 3 and name[:4].isdigit() for name in names), names
