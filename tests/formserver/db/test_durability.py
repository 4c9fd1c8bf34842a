"""Never lose, never duplicate: the form server under load, through a backup, and through crashes.

Everything runs as in production: gunicorn with 2 workers on a database file (or a PostgreSQL database),
users and tokens made with the admin CLI, backups and restores with `flask --app formserver backup/restore`,
clients posting patrols to /api/v1/submissions with their own submission ids and retrying the SAME id
after any connection error, timeout or 5xx, as a well-behaved client does.

- backup under write load: every submission acknowledged before the backup started is in the restored
  copy, the copy holds nothing that was never acknowledged, and it passes its integrity checks;
- kill -9 of workers mid-load (and, on PostgreSQL, every database connection cut from the server side):
  every acknowledged submission is stored, exactly once.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.live_server import Gunicorn, flask_cli, patrol_values, request, user_with_token
from tests.server_support import PG_ADMIN_URL, drop_postgres_database, postgres_database

pytestmark = pytest.mark.slow
PRODUCTION = {"workers": 2, "worker_class": "gthread", "threads": 4}  # README's setting, with 2 workers
RETRYABLE = (OSError, http.client.HTTPException)  # refused, reset, timed out, cut mid-response


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request, tmp_path) -> Iterator:
    """`new_database(name)`: the URL of a new empty database of the parametrized backend."""
    made: list[str] = []

    def make(name: str) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        url, why = postgres_database()
        if url is None:
            pytest.skip(why)
        made.append(url)
        return url

    make.backend = request.param
    yield make
    for url in made:
        drop_postgres_database(url)


class Client:
    """Posts submissions until each is acknowledged, retrying the same id and content; records the acks."""

    def __init__(self, base_url: str, token: str, values: dict):
        self.base_url, self.token, self.values = base_url, token, values
        self.acked: dict[str, float] = {}  # submission id → monotonic time of its 201
        self.retries = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def submit(self, uid: str, deadline: float) -> None:
        body = {"form": "patrol", "submission_id": uid, "values": self.values}
        while time.monotonic() < deadline:
            try:
                status, answer = request("POST", f"{self.base_url}/api/v1/submissions", body, self.token, timeout=10)
            except RETRYABLE:
                status, answer = 0, None
            if status == 201:
                assert answer["submission_id"] == uid
                with self.lock:
                    self.acked[uid] = time.monotonic()
                return
            if status and status < 500:
                with self.lock:
                    self.failures.append(f"{uid}: {status} {answer}")
                return
            with self.lock:
                self.retries += 1
            time.sleep(0.05)
        with self.lock:
            self.failures.append(f"{uid}: no acknowledgement before the deadline")


def stored_uids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text("SELECT uid FROM submissions")))
    finally:
        engine.dispose()


def check_consistent(url: str) -> None:
    """Integrity of a database: SQLite's own checks; on both, every submission has its first revision and
    no submission id is stored twice."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.scalar(text("PRAGMA integrity_check")) == "ok"
                assert list(connection.execute(text("PRAGMA foreign_key_check"))) == []
            assert list(connection.execute(text(
                "SELECT uid, count(*) FROM submissions GROUP BY uid HAVING count(*) > 1"))) == []
            orphans = connection.scalar(text(
                "SELECT count(*) FROM submissions s WHERE NOT EXISTS "
                "(SELECT 1 FROM revisions r WHERE r.submission_id = s.id AND r.number = 1)"))
            assert orphans == 0
            assert connection.scalar(text("SELECT count(*) FROM revisions")) == \
                connection.scalar(text("SELECT count(*) FROM submissions"))
    finally:
        engine.dispose()


# -- backup under write load -------------------------------------------------------------------------


def test_backup_under_write_load_keeps_every_acknowledged_submission(new_database, tmp_path: Path):
    live, restored = new_database("live"), new_database("restored")
    token = user_with_token(live, "writer")
    backup_file = tmp_path / ("backup.sqlite3" if new_database.backend == "sqlite" else "backup.dump")
    with Gunicorn(live, log=tmp_path / "gunicorn.log", **PRODUCTION) as server:
        client = Client(server.url, token, patrol_values(server.url, token))
        stop = threading.Event()
        deadline = time.monotonic() + 120

        def writer() -> None:
            while not stop.is_set():
                client.submit(str(uuid.uuid4()), deadline)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            backup_started = time.monotonic()
            output = flask_cli(live, "backup", str(backup_file))
            backup_done = time.monotonic()
            time.sleep(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    assert client.failures == []
    before = {uid for uid, at in client.acked.items() if at < backup_started}
    during = {uid for uid, at in client.acked.items() if backup_started <= at < backup_done}
    assert len(before) >= 20 and len(client.acked) > len(before), "the load did not overlap the backup"
    assert sorted(stored_uids(live)) == sorted(client.acked)  # the live database lost nothing either
    assert "已备份" in output

    flask_cli(restored, "restore", str(backup_file), "--yes")
    in_backup = stored_uids(restored)
    check_consistent(restored)
    assert before <= set(in_backup), f"{len(before - set(in_backup))} acknowledged submissions missing"
    assert set(in_backup) <= set(client.acked), "the backup holds submissions that were never acknowledged"
    assert len(in_backup) == len(set(in_backup))
    assert len(in_backup) <= len(before) + len(during) + 4 * 2  # at most the writes in flight at the start
    if new_database.backend == "sqlite":
        assert f"{len(in_backup)} 份记录" in output


# -- crashes ---------------------------------------------------------------------------------------


def _kill_workers(server: Gunicorn, running: threading.Event, kills: list[int], interval: float) -> None:
    """kill -9 a serving worker every `interval` seconds while the clients run. A worker still loading the
    app after a previous kill is spared (killing it would interrupt nothing)."""
    rng = random.Random(7)
    settle = 1.5 * server.boot_seconds
    while running.is_set() and len(kills) < 6:
        time.sleep(interval)
        serving = [pid for pid in server.workers() if server.age(pid) > settle]
        if serving and running.is_set():
            victim = rng.choice(serving)
            os.kill(victim, signal.SIGKILL)
            kills.append(victim)


def _cut_connections(database_url: str, running: threading.Event, cuts: list[int], interval: float) -> None:
    """Terminate every server connection to our database, as a database restart would (without restarting
    the server other tests share)."""
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        while running.is_set() and len(cuts) < 4:
            time.sleep(interval)
            with admin.connect() as connection:
                cut = connection.scalar(text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            cuts.append(cut)
    finally:
        admin.dispose()


def test_kill_9_and_lost_connections_lose_and_duplicate_nothing(new_database, tmp_path: Path):
    live = new_database("live")
    token = user_with_token(live, "writer")
    clients, at_least, enough_kills = 12, 50, 3
    kills: list[int] = []
    cuts: list[int] = []
    planned: list[list[str]] = [[] for _ in range(clients)]

    def load(c: int, deadline: float) -> None:
        """At least `at_least` submissions, and on until enough workers were killed under the load (a fast
        machine would otherwise finish before the chaos gets going)."""
        rng = random.Random(c)
        while len(planned[c]) < at_least or (len(kills) < enough_kills and time.monotonic() < deadline - 30):
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            planned[c].append(uid)
            client.submit(uid, deadline)

    with Gunicorn(live, log=tmp_path / "gunicorn.log", **PRODUCTION) as server:
        client = Client(server.url, token, patrol_values(server.url, token))
        deadline = time.monotonic() + 180
        running = threading.Event()
        running.set()
        threads = [threading.Thread(target=load, args=(c, deadline)) for c in range(clients)]
        chaos = [threading.Thread(target=_kill_workers, args=(server, running, kills, 1.2))]
        if new_database.backend == "postgresql":
            chaos.append(threading.Thread(target=_cut_connections, args=(live, running, cuts, 0.9)))
        for thread in threads + chaos:
            thread.start()
        for thread in threads:
            thread.join()
        running.clear()
        for thread in chaos:
            thread.join()
        # Every id once more, now that nothing is killed: each must be answered as already stored.
        for uid in planned[0][:5]:
            status, answer = request("POST", f"{server.url}/api/v1/submissions",
                                     {"form": "patrol", "submission_id": uid, "values": client.values}, token)
            assert status == 201 and answer["submission_id"] == uid

    assert client.failures == []
    assert len(kills) >= 3, f"only {len(kills)} workers killed: the load ended too soon"
    assert client.retries > 0, "no kill interrupted a request"
    if new_database.backend == "postgresql":
        assert len(cuts) >= 2 and sum(cuts) > 0
    planned_ids = {uid for plan in planned for uid in plan}
    assert len(planned_ids) == sum(map(len, planned))
    assert set(client.acked) == planned_ids
    stored = stored_uids(live)
    assert len(stored) == len(planned_ids) and set(stored) == planned_ids  # rows == distinct ids, none lost
    check_consistent(live)  # and none stored twice
