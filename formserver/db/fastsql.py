"""Statements compiled once and run straight on the driver's cursor, for the few queries every API
submission runs (the token check, and the inserts of a submission).

`Connection.execute` spends about 80 µs of CPU per statement on bookkeeping (statement cache lookup,
execution context, events, result objects) and a fresh `Connection` another 200 µs (pool, BEGIN/ROLLBACK
events); the queries themselves take 15–30 µs. Here a Core statement is compiled once per dialect by
SQLAlchemy, its parameters go through the same bind processors SQLAlchemy would apply (dates and times,
JSON), and it runs on the DBAPI cursor of a Connection, inside that Connection's transaction. So the rows
written are exactly those `Connection.execute` would write. Rows read come back as the driver returns them:
only columns that need no conversion (integers, strings) belong in a SELECT or RETURNING run this way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


class _Compiled:
    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys: list[str] | None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup) if compiled.positional else None
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def parameters(self, values: dict[str, Any]) -> Any:
        processed = {name: (self.processors[name](value) if name in self.processors else value)
                     for name, value in values.items()}
        return processed if self.names is None else tuple(processed[name] for name in self.names)


class FastStatement:
    """A Core statement with bound parameters named like the dict passed to `execute`. An INSERT names
    its columns up front, all of them but those filled by the database, since column defaults set in
    Python (`default=…`) are not applied here: leaving one out fails at compile time, never stores NULL."""

    def __init__(self, statement: ClauseElement, columns: Iterable[str] | None = None):
        self._statement = statement
        self._columns = list(columns) if columns is not None else None
        if isinstance(statement, Insert):
            _check_columns(statement.table, self._columns or [])
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self._statement, dialect, self._columns)
        return compiled

    def fetch_one(self, connection: Connection, values: dict[str, Any]) -> tuple | None:
        """The first row (of a SELECT, or of an INSERT … RETURNING), or None."""
        compiled = self._for(connection.dialect)
        with _driver_errors(compiled, connection.dialect):
            cursor = connection.connection.cursor()
            cursor.execute(compiled.sql, compiled.parameters(values))
            row = cursor.fetchone()
            cursor.close()
        return row

    def executemany(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        compiled = self._for(connection.dialect)
        with _driver_errors(compiled, connection.dialect):
            cursor = connection.connection.cursor()
            cursor.executemany(compiled.sql, [compiled.parameters(values) for values in rows])
            cursor.close()

    def read_one(self, engine: Engine, values: dict[str, Any]) -> tuple | None:
        """The first row of a single-statement read, on a pooled driver connection of its own and outside any
        transaction of ours (on SQLite the statement reads one snapshot; PostgreSQL's transaction is rolled
        back as the connection returns to the pool)."""
        compiled = self._for(engine.dialect)
        with _driver_errors(compiled, engine.dialect):
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(compiled.sql, compiled.parameters(values))
                row = cursor.fetchone()
                cursor.close()
                return row
            finally:
                connection.close()


@contextlib.contextmanager
def _driver_errors(compiled: _Compiled, dialect: Dialect) -> Iterator[None]:
    """The driver's errors as SQLAlchemy's (OperationalError, IntegrityError …), as Connection.execute raises
    them: so a database that cannot be reached still answers 503 (see errors.py)."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(compiled.sql, None, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error


def _check_columns(table: Table, columns: list[str]) -> None:
    missing = [c.key for c in table.columns
               if c.key not in columns and c.default is not None and not c.primary_key]
    if missing:
        raise ValueError(f"INSERT INTO {table.name} must set {', '.join(missing)} (Python-side defaults)")
