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
from formserver.db.migrate import current, head, upgrade
from formserver.db.models import Base


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
    code = ("import sys; from formserver.db import make_engine; from formserver.db.migrate import upgrade; "
            f"print(upgrade(make_engine({url!r})))")
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
                 for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sorted(outputs) == ["False", "False", "False", "True"]
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"submissions", "revisions", "users", "alembic_version"} <= tables


def test_0004_fills_shift_and_area_of_existing_records(tmp_path: Path):
    """Records made before the today board existed get their shift and area from their newest revision."""
    from alembic import command
    from sqlalchemy import text

    from formserver.db.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
        connection.execute(text(
            "INSERT INTO users (id, username, display_name, role, team, password_hash, active, created_at) "
            "VALUES (1, 'zhang', '张三', 'staff', 'desk', 'x', 1, '2026-11-01')"))
        connection.execute(text(
            "INSERT INTO form_versions (id, form_id, revision, digest, title, definition, created_at) "
            "VALUES (1, 'patrol', '1.0', 'd', '巡查检查表', '{}', '2026-11-01')"))
        connection.execute(text(
            "INSERT INTO submissions (id, uid, form_id, form_version_id, user_id, team, record_date, summary, "
            "status, revision_count, content_digest, faults, created_at, updated_at) VALUES "
            "(1, 'u1', 'patrol', 1, 1, 'desk', '2026-11-01', '', 'submitted', 2, 'd', 0, '2026-11-01', '2026-11-01')"))
        for number, shift in ((1, "早班"), (2, "中班")):
            connection.execute(text(
                "INSERT INTO revisions (submission_id, number, \"values\", digest, author_id, reason, created_at) "
                "VALUES (1, :n, :v, 'd', 1, '', '2026-11-01')"),
                {"n": number, "v": f'{{"shift": "{shift}", "area": "地下停车场"}}'})
    assert upgrade(engine) is True
    with engine.connect() as connection:
        assert connection.execute(text("SELECT shift, area FROM submissions")).one() == ("中班", "地下停车场")
