"""Backup and restore while the server runs: SQLite through its online backup API (a consistent copy even
under writes), PostgreSQL through pg_dump / pg_restore (custom format)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine


class BackupError(RuntimeError):
    pass


def _libpq_url(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _check_sqlite(path: Path) -> int:
    """Integrity-check a SQLite file; the number of submissions it holds."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"{path}: 完整性检查失败:{result}")
            return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: 不是可用的表单服务器数据库({error})") from error


def backup(engine: Engine, target: str | Path) -> str:
    target = Path(target)
    if engine.dialect.name == "sqlite":
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(engine.url.database)
        try:
            with sqlite3.connect(partial) as dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        count = _check_sqlite(partial)
        os.replace(partial, target)
        return f"{count} 份记录"
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={_libpq_url(engine)}"])
    return f"{target.stat().st_size} 字节"


def restore(engine: Engine, source: str | Path) -> str:
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"备份文件不存在:{source}")
    if engine.dialect.name == "sqlite":
        count = _check_sqlite(source)
        engine.dispose()
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            with sqlite3.connect(engine.url.database, timeout=30) as dest:
                src.backup(dest)
            dest.close()
        finally:
            src.close()
        return f"{count} 份记录"
    engine.dispose()
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={_libpq_url(engine)}", str(source)])
    return "PostgreSQL 已恢复"


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"找不到 {command[0]}:请安装 PostgreSQL 客户端(Debian 包 postgresql-client)")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} 失败:{result.stderr.strip()[:2000]}")
