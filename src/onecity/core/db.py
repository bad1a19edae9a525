"""Engine, sessions and the unit of work. SQLite (WAL) embedded, PostgreSQL for deployments."""

from __future__ import annotations

import operator
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from onecity.core import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return clock.now()


def insert_for(session: Session) -> Any:
    """The session's dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine, immediate=immediate)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, which lets two
    # writers read the same state and then race; we issue BEGIN ourselves so every unit of work
    # takes the write lock up front (BEGIN IMMEDIATE) and writers queue on busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when it returns. NORMAL (WAL's usual pairing) can lose the
        # last commits to a power cut, after a station was told its money was stored.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite readers must not queue behind writers: they get their own deferred engine.
        self.read_engine = (
            make_engine(url, immediate=False, **engine_kwargs)
            if url.startswith("sqlite")
            else self.engine
        )
        self._readers = sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite has one writer at a time. Its own wait (busy_timeout) polls with sleeps of up
        # to 100 ms, so threads of this process queue on a lock instead and each runs the
        # moment the previous one commits; other processes still meet busy_timeout.
        self._writer: AbstractContextManager[object] = (
            threading.RLock() if url.startswith("sqlite") else nullcontext()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits if the block finishes, rolls back if it raises."""
        with self._writer:
            s = self._sessions()
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
            finally:
                s.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: never commits."""
        s = self._readers()
        try:
            yield s
        finally:
            # close() (not rollback()) so loaded objects stay readable after the block.
            s.close()

    def ping(self) -> None:
        """One round trip to the database; raises when it cannot be reached."""
        with self.read() as s:
            s.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


_INSERT_PLANS: dict[tuple[str, str, tuple[str, ...]], tuple[str, Any, list[tuple[int, Any]]]] = {}


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows (all with the same keys) in one executemany.

    The columns' own bind processing still applies (UTC datetimes, JSON), but SQLAlchemy's
    per-row statement machinery does not: on a batch of a hundred rows that machinery costs
    more than the database. Python-side column defaults are not applied; give every value."""
    if not rows:
        return
    cols = tuple(rows[0])
    dialect = conn.dialect
    plan_key = (dialect.name, table.name, cols)
    plan = _INSERT_PLANS.get(plan_key)
    if plan is None:
        quote = dialect.identifier_preparer
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # Names are the table's own columns (table.c[c] below refuses any other), quoted by
        # the dialect; values always travel as parameters.
        sql = (
            f"INSERT INTO {quote.format_table(table)} "  # noqa: S608
            f"({', '.join(quote.quote(c) for c in cols)}) "
            f"VALUES ({', '.join([mark] * len(cols))})"
        )
        procs = [
            (i, proc)
            for i, c in enumerate(cols)
            if (proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect))
        ]
        plan = _INSERT_PLANS[plan_key] = (sql, operator.itemgetter(*cols), procs)
    sql, get, procs = plan
    params = []
    for r in rows:
        values = list(get(r)) if len(cols) > 1 else [get(r)]
        for i, proc in procs:
            values[i] = proc(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)
