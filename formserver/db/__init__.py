"""The database: one engine per app, a read session per request, short write transactions.

SQLite (the default) is tuned for several gunicorn workers on one disk: WAL, a busy timeout, foreign keys
and synchronous=FULL, and every write transaction starts with BEGIN IMMEDIATE so two writers never
deadlock on a lock upgrade (plain BEGIN gave "database is locked" under load despite the busy timeout).
Writers of every worker queue on a file lock beside the database before BEGIN IMMEDIATE (see `_writer_turn`);
API submissions of concurrent requests share their write transactions (`write_batched`, see groupcommit).
Reads begin deferred and never block writers. PostgreSQL connections are pinged before use, so a
database restart costs a retry, never an accepted submission.

The package holds the rest of the storage layer: the tables (`models`), migrations (`migrate`, migrations/),
backup and restore (`backup`), compiled hot-path statements (`fastsql`) and group commit (`groupcommit`).
May import `base` only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from formserver.db.groupcommit import GroupCommit, Handler

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["db_group_commit"] = GroupCommit(engine, write_transaction)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The request's read session (deferred transactions), closed at teardown."""
    if "db" not in g:
        g.db = current_app.extensions["db_sessions"]()
    return g.db


def connection() -> Connection:
    """The request's read connection for Core queries on the API's paths, where an ORM session costs more
    than the query: a deferred transaction like `session()`'s, ended before any write, closed at teardown."""
    if "db_connection" not in g:
        g.db_connection = current_app.extensions["db_engine"].connect()
    return g.db_connection


def _close_session(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
    connection_ = g.pop("db_connection", None)
    if connection_ is not None:
        connection_.close()


def _end_read() -> None:
    """End the request's read transaction, if any (its loaded objects stay usable). On SQLite a reader keeps
    the snapshot of its first read: while one is open the WAL can be neither fully checkpointed nor restarted."""
    if "db" in g:
        g.db.commit()
    connection_ = g.pop("db_connection", None)
    if connection_ is not None:
        connection_.close()  # back to the pool: the write below most likely takes this very connection


@contextlib.contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """Wait for our turn to write to an SQLite file. SQLite's busy handler polls in sleeps growing to 100 ms,
    so under load the write lock sat idle while writers slept (a tenth of the throughput, p99 > 1 s with 32
    clients); a flock wakes the next writer the moment the last one releases. Each call opens the lock file
    anew, so threads of one worker queue as well as processes; the kernel drops a killed holder's lock."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while waiting
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def write() -> Iterator[Session]:
    """A write transaction of its own: BEGIN IMMEDIATE on SQLite, committed on leaving the block.
    Callers report success only after this block has returned, i.e. after COMMIT."""
    engine_ = current_app.extensions["db_engine"]
    _end_read()  # no snapshot of ours may pin the SQLite WAL while we write (it grew without bound)
    with _writer_turn(engine_) if is_sqlite(engine_) else contextlib.nullcontext(), _transaction() as db:
        yield db


@contextlib.contextmanager
def write_connection() -> Iterator[Connection]:
    """Like `write()`, on a bare Connection (Core statements, no ORM unit of work): same lock, same BEGIN
    IMMEDIATE, committed on leaving the block."""
    _end_read()
    with write_transaction(current_app.extensions["db_engine"]) as connection_:
        yield connection_


def write_batched(handler: Handler, item: Any) -> Any:
    """`item`'s outcome from `handler(connection, items)`, run in a write transaction shared with other
    requests' items (see groupcommit), once it has committed. For the hot path of API submissions."""
    _end_read()
    return current_app.extensions["db_group_commit"].run(handler, item)


@contextlib.contextmanager
def write_transaction(engine_: Engine) -> Iterator[Connection]:
    """A Connection in a write transaction of its own, committed on leaving the block (any thread). The
    connection is taken from the pool before our turn to write and returned after it: others wait for the
    turn, so it holds nothing but the transaction."""
    sqlite = is_sqlite(engine_)
    with engine_.connect() as connection_, _writer_turn(engine_) if sqlite else contextlib.nullcontext():
        if sqlite:
            connection_.execution_options(sqlite_begin="IMMEDIATE")
        with connection_.begin():
            yield connection_


@contextlib.contextmanager
def _transaction() -> Iterator[Session]:
    db: Session = current_app.extensions["db_sessions"]()
    try:
        if is_sqlite(db.get_bind()):
            db.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        yield db
        db.commit()
        _end_read()  # and the request reads what it has just written, not an older snapshot
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()
