"""Engine, sessions, the declarative Base and the column types every table uses."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full

# Stable constraint names, so that Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are BIGINT on PostgreSQL only.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Ids are 64-bit signed on both engines; anything larger is bad input, not a driver overflow.
MAX_ID = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back an aware UTC datetime (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def one_of(column: str, values: list[str]) -> str:
    """The SQL of a CHECK that a column holds one of the named values (an enum stored as text)."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout makes writers wait, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


DEFAULT_POOL_SIZE = 20


class _FairQueue(AsyncAdaptedQueue[Any]):
    """The pool's idle connections, handed to waiting requests in the order they began to wait.

    SQLAlchemy's asyncio queue lets a request that just arrived take a connection that was put
    back for a request already waiting; the woken waiter then finds the queue empty and queues
    again at the back. Under a burst (200 requests for 20 connections) some requests waited
    seconds while newer ones went through: the long p99. Here a returned connection goes
    straight to the longest waiter, and a newcomer takes one only when nobody is waiting.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._idle: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def empty(self) -> bool:
        return not self._idle

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._idle)

    def qsize(self) -> int:
        return len(self._idle)

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._idle.append(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # never blocks: the pool puts back only what it handed out

    def get_nowait(self) -> Any:
        if not self._idle:
            raise Empty()
        return self._idle.pop() if self.use_lifo else self._idle.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self._idle or not block:
            return self.get_nowait()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return await_(self._wait(waiter, seconds=timeout))

    async def _wait(self, waiter: asyncio.Future[Any], *, seconds: float | None) -> Any:
        try:
            return await asyncio.wait_for(waiter, seconds)
        except TimeoutError as exc:
            raise Empty() from exc
        except BaseException:
            # cancelled after a connection was handed over: pass it on rather than lose it
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())
            raise


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with first-come, first-served waiting (see _FairQueue)."""

    _queue_class = _FairQueue


def make_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine whose pool holds `pool_size` connections and no more.

    A fixed pool rather than one that overflows: connections opened for a burst and closed after
    it cost PostgreSQL a backend start each, and a burst of hundreds of requests is better queued
    here (a waiting request costs nothing) than spread over hundreds of backends on a few cores.
    """
    size = pool_size or DEFAULT_POOL_SIZE
    if url.startswith("sqlite"):
        if ":memory:" not in url and "mode=memory" not in url:
            kwargs.setdefault("poolclass", FairAsyncQueuePool)
            kwargs.setdefault("pool_size", size)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("poolclass", FairAsyncQueuePool)
    kwargs.setdefault("pool_size", size)
    kwargs.setdefault("max_overflow", 0)
    # No ping before each checkout: it is a round trip on every request. A connection the server
    # dropped (a restart) fails its request once; SQLAlchemy then recognises the disconnect and
    # replaces every pooled connection, so the requests after it get fresh ones.
    kwargs.setdefault("pool_pre_ping", False)
    return create_async_engine(url, **kwargs)


class Database:
    """One engine and its session factory; the app keeps one, tests make their own."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction owned by the calling service.

    A dependency may already have read through this session (loading the principal),
    which opened a transaction implicitly; the write then takes over that one.
    """
    if session.in_transaction():
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
    else:
        async with session.begin():
            yield session


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# SQLite has one writer. Queuing this process's writers on one lock per database, instead of letting
# each connection poll SQLite's busy handler (which sleeps up to 100 ms between tries), keeps a
# stampede's throughput near the engine's own; across processes busy_timeout still decides. Keyed by
# engine and event loop, since an asyncio lock belongs to one loop.
_sqlite_writers: dict[tuple[int, int], asyncio.Lock] = {}


def _sqlite_writer_lock(session: AsyncSession) -> asyncio.Lock:
    key = (id(session.get_bind()), id(asyncio.get_running_loop()))
    lock = _sqlite_writers.get(key)
    if lock is None:
        if len(_sqlite_writers) > 64:  # loops of finished tests; a server has one
            _sqlite_writers.clear()
        lock = _sqlite_writers[key] = asyncio.Lock()
    return lock


async def _sqlite_in_transaction(session: AsyncSession) -> bool:
    """Whether the SQLite connection itself is inside a transaction (the driver begins one lazily)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return bool(raw.driver_connection.in_transaction)  # type: ignore[union-attr]


@asynccontextmanager
async def write_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction begun afresh; on SQLite it holds the writer lock from its first read.

    Reads done before it (the principal, read-only checks) are committed away first, so that
    nothing the write decides on was read in an older snapshot. On SQLite the transaction starts
    with BEGIN IMMEDIATE, so a read inside it can never go stale before the write.
    """
    if not is_sqlite(session):
        if session.in_transaction():
            await session.commit()
        async with transaction(session):
            yield session
        return
    # The SQLite driver opens a transaction only for writes: after reads alone there is nothing
    # to commit (and committing would cost a hop to the driver's thread).
    if session.in_transaction() and await _sqlite_in_transaction(session):
        await session.commit()
    # Take a pooled connection before queueing for the lock. Waiters hold theirs while they wait;
    # a holder that still had to check one out could find the pool emptied by those waiters, and
    # the two would wait on each other until the pool's timeout.
    await session.connection()
    async with _sqlite_writer_lock(session), transaction(session):
        await session.execute(text("BEGIN IMMEDIATE"))
        yield session


def integrity_error_mentions(error: IntegrityError, *names: str) -> bool:
    """Whether a constraint violation names any of these columns or constraints.

    SQLite names the columns ("patients.id_number_hash"), PostgreSQL the constraint
    ("uq_patients_id_number_hash"); a name that is a substring of both forms matches on either.
    """
    text = str(error.orig).lower()
    return any(name.lower() in text for name in names)


_process_databases: dict[str, Database] = {}


def process_database() -> Database:
    """The database this process serves, for outbox handlers, which receive only their message."""
    from regio.config import (
        get_settings,  # config imports nothing of ours; kept lazy for the CLI's import cost
    )

    url = get_settings().database_url
    if url not in _process_databases:
        _process_databases[url] = Database(url)
    return _process_databases[url]
