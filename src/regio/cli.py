"""The `regio` command: thin wrappers that parse arguments and call services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from regio.config import PROJECT_ROOT, get_settings

app = typer.Typer(
    help="Regio: regional internet hospital and cross-jurisdiction risk platform.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
care_app = typer.Typer(help="Regio Care administration.", no_args_is_help=True)
care_import_app = typer.Typer(help="Import registry data from CSV.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.add_typer(care_app, name="care")
care_app.add_typer(care_import_app, name="import")


def upgrade_database(database_url: str | None = None) -> None:
    """Runs every Alembic migration up to head on the configured (or given) database."""
    from alembic import command
    from alembic.config import Config

    url = database_url or get_settings().database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (SQLite or PostgreSQL)."""
    upgrade_database()
    typer.echo("database is at the newest schema")


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default REGIO_HOST)."),
    port: int = typer.Option(None, help="Port (default REGIO_PORT)."),
    migrate: bool = typer.Option(True, help="Run migrations before serving."),
) -> None:
    """Serve pages, the API and (by default) the background loops in one process."""
    import uvicorn

    settings = get_settings()
    if migrate:
        upgrade_database()
    uvicorn.run(
        "regio.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
    )


@app.command()
def worker() -> None:
    """Run the outbox, timed jobs and audit sealer as their own process (for scale-out)."""
    from regio.core.db import Database
    from regio.core.worker import run_until_signal

    settings = get_settings()
    asyncio.run(run_until_signal(db=Database(settings.database_url), settings=settings))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
