"""Bring the database schema up to date with Alembic, safely when several processes start at once.

One process migrates at a time: a file lock beside an SQLite database, an advisory lock on PostgreSQL.
On SQLite, foreign keys are off while migrating (batch migrations copy tables, and with foreign keys on
that silently deleted ON DELETE CASCADE children) and `PRAGMA foreign_key_check` runs afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_LOCK_KEY = 7_316_002  # any constant shared by every app server


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current(engine: Engine) -> str:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or ""


def upgrade(engine: Engine) -> bool:
    """Migrate to the newest schema; True when something was done."""
    with _migration_lock(engine):
        if current(engine) == head():
            return False
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                # PRAGMA foreign_keys is ignored inside a transaction: set it on the raw connection first.
                raw = connection.connection.driver_connection
                raw.execute("PRAGMA foreign_keys=OFF")
                command.upgrade(alembic_config(connection), "head")
                connection.commit()
                problems = raw.execute("PRAGMA foreign_key_check").fetchall()
                raw.execute("PRAGMA foreign_keys=ON")
            if problems:
                raise RuntimeError(f"foreign key check failed after migrating: {problems[:5]}")
        else:
            with engine.connect() as connection:
                command.upgrade(alembic_config(connection), "head")
                connection.commit()
        return True


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database).with_suffix(".migrate-lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
