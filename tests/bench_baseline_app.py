"""The benchmark's baseline: the least a durable submission endpoint can do on this stack. A bare Flask app
that checks a bearer token and inserts one row into SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE),
idempotent on the client's submission id (unique column, INSERT … ON CONFLICT DO NOTHING).

    BENCH_DB=/tmp/base.sqlite3 BENCH_TOKEN=secret gunicorn -w 2 'tests.bench_baseline_app:create_app()'
"""

from __future__ import annotations

import hmac
import json
import os
import sqlite3
import threading

from flask import Flask, jsonify, request

SCHEMA = ("CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, "
          "form TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")


def connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=10000"):
        connection.execute(pragma)
    return connection


def create_app() -> Flask:
    app = Flask(__name__)
    path, token = os.environ["BENCH_DB"], os.environ["BENCH_TOKEN"]
    setup = connect(path)
    setup.execute(SCHEMA)
    setup.close()  # no connection across gunicorn's fork
    local = threading.local()

    @app.post("/submissions")
    def submit():
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            return jsonify({"error": "token"}), 401
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("submission_id"), str):
            return jsonify({"error": "body"}), 400
        if not hasattr(local, "db"):
            local.db = connect(path)  # one connection per worker thread, kept (as a pool would)
        db = local.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO submissions (uid, form, body) VALUES (?, ?, ?) ON CONFLICT (uid) DO NOTHING",
                       (body["submission_id"], str(body.get("form", "")), json.dumps(body.get("values"))))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return jsonify({"submission_id": body["submission_id"]}), 201

    return app
