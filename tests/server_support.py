"""Helpers for the form-server tests: apps on SQLite and PostgreSQL, users, logging in, posting forms.

One app per database backend per test session (loading the handbook and migrating cost about a second);
every test starts from empty tables. PostgreSQL tests use a fresh database made on the server named by
TEST_POSTGRES_URL (default: the local server CI has) and skip with the reason when none is reachable.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from formserver import create_app
from formserver.db.models import Base

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
KEEP_TABLES = {"form_versions", "regulation_versions", "alembic_version"}  # registered at start-up


def postgres_database() -> tuple[str | None, str]:
    """(URL of a new empty database, '') or (None, why not)."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"formserver_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as error:  # any failure means: no PostgreSQL here
        return None, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(error).splitlines()[0][:200]}"
    return str(create_engine(PG_ADMIN_URL).url.set(database=name).render_as_string(hide_password=False)), ""


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# The tests written before signature pads post typed signatures; the drawn-signature tests turn this on
# (tests/formserver/records/test_signatures.py), as it is by default (formserver/base/config.py).
TYPED_SIGNATURES = {"SIGNATURE_DRAWING_REQUIRED": False}


def make_app(database_url: str, instance: Path, **config: Any) -> Flask:
    return create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "TESTING": True,
                       "HANDBOOK_ROOT": str(ROOT), "HANDBOOK_SITE": str(instance / "site"),
                       "LOGIN_LIMIT_PER_ADDRESS": 1000, "SCHEDULES_FROM": "2000-01-01", **TYPED_SIGNATURES, **config})


def empty_tables(app: Flask) -> None:
    engine = app.extensions["db_engine"]
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                connection.execute(table.delete())


def create_user(app: Flask, username: str, role: str = "staff", team: str = "desk",
                display_name: str | None = None, password: str = PASSWORD) -> None:
    result = app.test_cli_runner().invoke(args=["create-user", username, "--role", role, "--team", team,
                                                "--display-name", display_name or username],
                                          input=password + "\n")
    assert result.exit_code == 0, result.output


def person(app: Flask, username: str, role: str = "staff", team: str = "desk", name: str | None = None) -> FlaskClient:
    """A logged-in client for a new user."""
    create_user(app, username, role=role, team=team, display_name=name or username)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page.get_data(as_text=True))})


def new_form(client: FlaskClient, form_id: str) -> tuple[str, str, str]:
    """(page html, csrf token, submission id) of a fresh form page."""
    page = client.get(f"/forms/{form_id}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    uid = re.search(r'name="submission_id"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="submission_id"', html)
    return html, csrf_of(html), uid.group(1)


PATROL_OK = {
    "date": "2026-11-23", "shift": "早班", "area": None, "patrol_time": "09:30", "inspector": "张三",
    "showroom": "ok", "greenery": "ok", "cleanliness": "ok", "no_open_flame": "ok", "suspicious_person": "no",
    "corridor": "ok", "stairs": "ok", "elevator": "ok", "fire_exit": "ok", "boundary_wall": "ok",
    "shop_doors": "ok", "windows": "ok", "cctv": "ok", "construction_issue": "no", "inspector_sign": "张三",
}


def patrol_values(app: Flask, **changes: Any) -> dict[str, Any]:
    values = dict(PATROL_OK)
    form = app.extensions["catalogue"].forms["patrol"]
    area = next(i for i in form.header if i.id == "area")
    values["area"] = area.options[0]
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def complaint_values(**changes: Any) -> dict[str, Any]:
    """A complete complaint sheet taken by 张三; `changes` replace or add fields."""
    values = {"complaint_no": "TS-001", "project": "星河广场", "date": "2026-11-23", "receiver": "张三",
              "complainant": "李女士", "contact": "13800000000", "complaint_time": "2026-11-23T10:00",
              "content": "存包柜门损坏,物品取不出", "handler": "张三", "handler_sign": "张三"}
    values.update(changes)
    return values


def form_post(values: dict[str, Any], csrf: str, uid: str) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": csrf, "submission_id": uid}
    data.update(values)
    return data
