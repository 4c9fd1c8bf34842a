"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and
several processes starting at once migrate once (the migration lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from formserver.db import make_engine
from formserver.migrate import current, head, upgrade
from formserver.models import Base


def test_migrations_match_the_models(app):
    engine = app.extensions["db_engine"]
    assert current(engine) == head()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(app):
    assert upgrade(app.extensions["db_engine"]) is False


def test_sqlite_pragmas_are_set(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    upgrade(engine)
    with engine.connect() as connection:
        pragma = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                  for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 2, "busy_timeout": 10000}


def test_processes_starting_together_migrate_once(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    code = ("import sys; from formserver.db import make_engine; from formserver.migrate import upgrade; "
            f"print(upgrade(make_engine({url!r})))")
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
                 for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sorted(outputs) == ["False", "False", "False", "True"]
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"submissions", "revisions", "users", "alembic_version"} <= tables
