"""Local stand-ins for the outside world: an HTTP receiver for the bots and webhooks, an SMTP server
(aiosmtpd), users and notifications written straight into the tables. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from formserver.db import write_transaction
from formserver.db.models import User, utcnow
from formserver.notify.outbox import Event, enqueue


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A threading HTTP server on a free port that records every POST. `status` is what it answers;
    `delay` how long it takes; requests repeating an Idempotency-Key seen before are answered 200 and
    counted in `repeats`, not in `accepted` (what a receiver that deduplicates does)."""

    status: int = 200
    delay: float = 0.0
    reply: dict[str, Any] = field(default_factory=lambda: {"errcode": 0})
    requests: list[Received] = field(default_factory=list)
    accepted: Counter = field(default_factory=Counter)
    repeats: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                url = urllib.parse.urlsplit(self.path)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                with receiver.lock:
                    headers = {**dict(self.headers.items()), "X-Received-At": utcnow().isoformat()}
                    got = Received(url.path, dict(urllib.parse.parse_qsl(url.query)), headers,
                                   json.loads(raw or b"null"))
                    receiver.requests.append(got)
                    key = got.headers.get("Idempotency-Key")
                    if status == 200 and key:
                        (receiver.repeats if key in receiver.accepted else receiver.accepted)[key] += 1
                body = json.dumps(receiver.reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the sender was killed while we answered: it never learns it was accepted
                    self.close_connection = True

            def log_message(self, *_args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a killed client's reset, not our fault
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def add_user(app: Flask, username: str, role: str = "staff", team: str = "desk") -> int:
    """A user row (no password: these tests never log in as them)."""
    with app.extensions["db_sessions"].begin() as db:
        user = User(username=username, display_name=f"{username}姓名", role=role, team=team, password_hash="x")
        db.add(user)
        db.flush()
        return user.id


def notify_config(app: Flask, **changes: Any) -> dict[str, Any]:
    """The app's settings for the worker, fast retries, and the given channels."""
    return {**app.config, "NOTIFY_BACKOFF_SECONDS": 0.01, "NOTIFY_BACKOFF_MAX_SECONDS": 0.05,
            "NOTIFY_SEND_TIMEOUT": 2.0, **changes}


def write_events(app: Flask, events: list[Event], config: dict[str, Any], now: dt.datetime | None = None) -> list[int]:
    cat = app.extensions["catalogue"]
    with write_transaction(app.extensions["db_engine"]) as connection, Session(bind=connection) as db:
        return enqueue(db, events, config, now or utcnow(), cat.local, cat.utc)


def event(user_id: int, n: int, channels: tuple[str, ...] = ("inbox", "webhook"), **changes: Any) -> Event:
    values = {"user_id": user_id, "kind": "form_due", "key": f"test:{n}:{user_id}", "title": f"提醒 {n}",
              "body": "正文", "link": f"/forms/patrol?n={n}", "event_at": utcnow(), "channels": channels}
    values.update(changes)
    return Event(**values)
