"""Database: the engine, a session per request, the declarative Base and the migration entry."""

from __future__ import annotations

import uuid
import zlib
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .resources import MIGRATIONS


class Base(DeclarativeBase):
    pass


# SQLite's busy timeout by default (the SQLITE_BUSY_SECONDS setting): how long a transaction
# waits for another's write lock before "database is locked". A writer holds it for one request
# (milliseconds), so even a queue of them clears well within.
SQLITE_BUSY_SECONDS = 10.0
# The execution option that makes a SQLite transaction take the write lock at its BEGIN.
_IMMEDIATE = "meegaan_sqlite_immediate"


def make_engine(url: str, busy_seconds: float = SQLITE_BUSY_SECONDS, **kwargs: Any) -> Engine:
    """An engine with SQLite made to behave: real transactions, foreign keys, WAL, busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_seconds},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A transaction that reads, then writes, cannot wait for the write lock: when another
            # writer committed since its first read, SQLite refuses at once ("database is locked",
            # whatever the timeout). One that will write takes the lock at BEGIN instead, waiting
            # its turn; readers never wait (WAL), so reading transactions stay deferred.
            immediate = conn.get_execution_options().get(_IMMEDIATE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """Holds the engine and the session factories of one app: one for work that only reads, one
    for work that writes (on SQLite its transactions take the write lock first; on PostgreSQL,
    whose locks are per row, the two work alike). A session's `info["writes"]` says which."""

    def __init__(self, url: str, busy_seconds: float = SQLITE_BUSY_SECONDS) -> None:
        self.url = url
        self.engine = make_engine(url, busy_seconds)
        self.sessionmaker = sessionmaker(
            bind=self.engine, expire_on_commit=False, info={"writes": False}
        )
        self.write_engine = self.engine
        if self.engine.dialect.name == "sqlite":
            self.write_engine = self.engine.execution_options(**{_IMMEDIATE: True})
        self.writer = sessionmaker(
            bind=self.write_engine, expire_on_commit=False, info={"writes": True}
        )

    def session(self, write: bool = False) -> Session:
        """A session; `write` when its work writes (then, on SQLite, each transaction waits for
        the write lock at its start rather than failing when it first writes)."""
        return self.writer() if write else self.sessionmaker()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, connection: Any = None) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    cfg = alembic_config(url)
    if connection is not None:
        cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


@contextmanager
def scratch_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on a PostgreSQL server, dropped afterwards (tests, benchmark)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def only_one(session: Session, job: str) -> bool:
    """Take a lock for `job` until the session's transaction ends; False when another machine
    holds it. PostgreSQL advisory locks make scheduled commands safe to start on several
    machines at once; SQLite lives on one machine, where its write lock serialises them."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = zlib.crc32(f"meegaan:{job}".encode())
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


class PlainStatement:
    """A Core SELECT compiled once per dialect and run as the driver's own SQL.

    SQLAlchemy's cache of compiled statements skips compiling again, but every execution still
    works out each parameter and expands each list (`IN (…)`) by rewriting the SQL: 0.11 ms of
    a search that SQLite answers in 0.05 ms, up to four times a page when a search widens. For
    the statements every page runs this does the same work once: the SQL and the order of its
    parameters are kept per dialect, the type conversions of the parameters (a datetime as
    SQLite stores it) are looked up once, and a list is put in as one placeholder per item.

    `execute` gives the rows as the driver gives them (no result types applied), for columns the
    driver returns as they are (numbers, text), as search's matches; `rows` converts each
    column as SQLAlchemy would (a datetime from SQLite's text, a Decimal). Parameter styles
    other than SQLite's `?` and psycopg's `%(name)s` run through SQLAlchemy as usual.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan | None] = {}

    def execute(self, connection: Any, params: dict[str, Any]) -> Any:
        dialect = connection.dialect
        try:
            plan = self._plans[dialect.name]
        except KeyError:
            plan = self._plans[dialect.name] = _Plan.of(self.statement, dialect)
        if plan is None:
            return connection.execute(self.statement, params)
        return connection.exec_driver_sql(*plan.bind(params))

    def rows(self, connection: Any, params: dict[str, Any]) -> list[Any]:
        """The rows as named tuples, their values converted to the columns' Python types."""
        result = self.execute(connection, params)
        plan = self._plans[connection.dialect.name]
        if plan is None:  # SQLAlchemy ran it and converted the values
            return list(result)
        if plan.row is None:
            plan.learn_rows(self.statement, connection.dialect, result.cursor.description)
        make, processors = plan.row._make, plan.row_processors
        if not processors:
            return [make(r) for r in result]
        rows = []
        for r in result:
            values = list(r)
            for i, process in processors:
                values[i] = process(values[i])
            rows.append(make(values))
        return rows


# How SQLAlchemy marks a list parameter in compiled SQL, until it expands it at execution.
_LIST_MARK = "__[POSTCOMPILE_{}]"


class _Plan:
    def __init__(
        self,
        sql: str,
        positional: bool,
        names: list[str],
        fixed: dict[str, Any],
        processors: dict[str, Any],
        lists: list[str],
    ) -> None:
        self.sql = sql
        self.positional = positional
        self.names = names  # in the order of the placeholders (positional) or each once
        self.fixed = fixed  # parameters with a value in the statement itself, converted
        self.processors = processors  # name → the type's conversion, where it has one
        self.lists = lists
        self.asked = [n for n in dict.fromkeys(names) if n not in fixed]  # from the caller
        self.row: Any = None  # the named tuple of `rows`, made on first use
        self.row_processors: list[tuple[int, Any]] = []  # (column, conversion) where needed

    def learn_rows(self, statement: Any, dialect: Any, description: Any) -> None:
        """The shape of a row and how to convert each column, from the first result's
        description (PostgreSQL's converters depend on the type the server reports)."""
        columns = list(statement.selected_columns)
        processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, d[1])
            for c, d in zip(columns, description, strict=True)
        ]
        self.row_processors = [(i, p) for i, p in enumerate(processors) if p is not None]
        self.row = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]

    @classmethod
    def of(cls, statement: Any, dialect: Any) -> _Plan | None:
        if dialect.paramstyle not in ("qmark", "pyformat"):
            return None
        compiled = statement.compile(dialect=dialect)
        processors, fixed, lists = {}, {}, []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.expanding:
                lists.append(name)
            elif bind.value is not None or bind.callable is not None:
                value = bind.effective_value
                fixed[name] = process(value) if process else value
                continue
            if process is not None:
                processors[name] = process
        for name in lists:
            if _LIST_MARK.format(name) not in compiled.string:
                return None  # SQLAlchemy writes lists differently: leave it to it
        if compiled.positional:
            names = list(compiled.positiontup)
        else:  # each parameter the SQL names (not the copies SQLAlchemy keeps under other keys)
            names = [n for n in compiled.binds if n in lists or f"%({n})s" in compiled.string]
        return cls(compiled.string, compiled.positional, names, fixed, processors, lists)

    def bind(self, params: dict[str, Any]) -> tuple[str, Any]:
        """The SQL (its lists written out) and the driver's parameters for `params`."""
        sql, processors = self.sql, self.processors
        values = dict(self.fixed)  # each parameter converted once, however often it is used
        for name in self.asked:
            v = params[name]
            process = processors.get(name)
            if name in self.lists:
                values[name] = [process(i) for i in v] if process else list(v)
            else:
                values[name] = process(v) if process is not None and v is not None else v
        for name in self.lists:
            count = len(values[name])
            if self.positional:
                marks = ", ".join("?" * count)
            else:
                marks = ", ".join(f"%({name}__{i})s" for i in range(count))
            sql = sql.replace(_LIST_MARK.format(name), marks or "NULL")
        if self.positional:
            args: list[Any] = []
            for name in self.names:
                if name in self.lists:
                    args.extend(values[name])
                else:
                    args.append(values[name])
            return sql, tuple(args)
        named: dict[str, Any] = {}
        for name in self.names:
            if name in self.lists:
                named.update((f"{name}__{i}", v) for i, v in enumerate(values[name]))
            else:
                named[name] = values[name]
        return sql, named
