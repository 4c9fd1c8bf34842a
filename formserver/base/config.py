"""Settings, each declared once with its default. Environment variables override them (DATABASE_URL,
SECRET_KEY, and FORMSERVER_<NAME> for the rest); tests pass a mapping to `create_app`."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the project: regulations/, checklists/, site/

DEFAULTS: dict[str, Any] = {
    # Where the regulations and checklists are, and the built handbook served at /handbook/.
    "HANDBOOK_ROOT": str(PACKAGE_ROOT),
    "HANDBOOK_SITE": "",  # default: <HANDBOOK_ROOT>/site
    "TIMEZONE": "Asia/Shanghai",
    # The database; default an SQLite file under instance/.
    "DATABASE_URL": "",
    "AUTO_MIGRATE": True,  # bring the schema up to date at start (under a lock)
    # Sessions: short-lived, HttpOnly, SameSite; Secure once the site is served over HTTPS.
    "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=12),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "formserver_session",
    # CSRF tokens last a whole shift (Flask-WTF's default hour is shorter than a patrol round).
    "WTF_CSRF_TIME_LIMIT": 16 * 3600,
    "WTF_I18N_ENABLED": False,  # WTForms' own zh_CN messages (Flask-Babel is not used)
    "MAX_CONTENT_LENGTH": 24 * 1024 * 1024,
    # Flask's default of 1000 fields per (multipart) post refused a register of ~100 rows as "too large";
    # a form of MAX_ROWS register rows posts several thousand. MAX_CONTENT_LENGTH still bounds the post.
    "MAX_FORM_PARTS": 20_000,
    "PHOTO_MAX_BYTES": 10 * 1024 * 1024,
    # Compressed (Flask-Compress): the app's scripts, styles and manifest, a third of their size on a slow
    # phone connection. Not the pages: they carry the CSRF token beside text people typed (BREACH).
    "COMPRESS_MIMETYPES": ["text/css", "text/javascript", "application/javascript", "application/manifest+json"],
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_STREAMS": False,  # see security.static_in_memory
    # A required signature on the web form needs its drawing on the pad, not only the typed name (the API takes
    # the name alone: see formserver/records/signatures.py). Off: a typed name signs, as on forms before pads.
    "SIGNATURE_DRAWING_REQUIRED": True,
    "ROSTER_MAX_BYTES": 2 * 1024 * 1024,  # an uploaded roster (XLSX/CSV): a month of a large team is ~200 KB
    "LOGIN_LIMIT_PER_ACCOUNT": 5,  # failures per 15 minutes
    "LOGIN_LIMIT_PER_ADDRESS": 30,
    "PROXY_COUNT": 0,  # reverse proxies in front of the app (X-Forwarded-For/Proto trusted from that many)
    "PAGE_SIZE": 50,
    # The days a date item accepts unless its YAML sets min/max (handbook.datebounds: -2y is two years before
    # the day of filling): no 0001-01-01 or 9999-12-31 becomes a record's date.
    "DATE_EARLIEST": "-2y",
    "DATE_LATEST": "+1y",
    # The first day (YYYY-MM-DD) the today board and monthly report count a form not filled in as missed;
    # default: when the server first started on this database (nothing was missed before the centre used it).
    "SCHEDULES_FROM": "",
    # Notifications (formserver.notify). Addresses and secrets come from the environment (FORMSERVER_SMTP_HOST,
    # FORMSERVER_SMTP_PASSWORD, FORMSERVER_NOTIFY_DINGTALK_SECRET, …), never from the repository; a channel
    # whose address is empty is off, so a fresh install sends nothing off this machine.
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "formserver@localhost",
    "SMTP_STARTTLS": False,
    "NOTIFY_WECOM_URL": "",  # 企业微信群机器人 webhook (its key is part of the URL)
    "NOTIFY_DINGTALK_URL": "",  # 钉钉自定义机器人 webhook (access_token in the URL)
    "NOTIFY_DINGTALK_SECRET": "",  # 钉钉 加签 secret: adds timestamp and sign to the URL
    "NOTIFY_FEISHU_URL": "",  # 飞书自定义机器人 webhook
    "NOTIFY_FEISHU_SECRET": "",  # 飞书 签名校验 secret: adds timestamp and sign to the body
    "NOTIFY_WEBHOOK_URL": "",  # generic JSON webhook
    "NOTIFY_WEBHOOK_SECRET": "",  # generic webhook: X-Signature = HMAC-SHA256 of the body, hex
    "NOTIFY_BASE_URL": "http://127.0.0.1:8000",  # the form server as people reach it, for links in messages
    "NOTIFY_POLL_SECONDS": 1.0,  # how often the worker looks for deliveries due
    "NOTIFY_SCHEDULE_SECONDS": 15.0,  # how often it looks for due times and deadlines (the scheduling pass)
    "NOTIFY_BATCH": 20,  # deliveries leased at a time
    "NOTIFY_LEASE_SECONDS": 120.0,  # a killed worker's leased deliveries are taken up again after this
    "NOTIFY_SEND_TIMEOUT": 10.0,
    "NOTIFY_MAX_ATTEMPTS": 6,  # then the delivery is failed (listed for an admin to retry)
    "NOTIFY_BACKOFF_SECONDS": 30.0,  # first retry after about this, doubling each time (with jitter)
    "NOTIFY_BACKOFF_MAX_SECONDS": 3600.0,
}


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    for name in ("DATABASE_URL", "SECRET_KEY"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config.from_prefixed_env("FORMSERVER")
    if overrides:
        app.config.update(overrides)
    root = Path(app.config["HANDBOOK_ROOT"])
    app.config["HANDBOOK_SITE"] = app.config["HANDBOOK_SITE"] or str(root / "site")
    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'formserver.sqlite3'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(instance: Path) -> str:
    """A secret made once and kept in instance/secret_key. Several app servers must share one: set
    SECRET_KEY in their environment instead."""
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made earlier, or by another worker starting at the same moment
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it and start again")
