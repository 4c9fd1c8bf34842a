"""The real worker (`flask --app formserver worker`), SIGKILLed again and again in the middle of delivering
300 notifications to a slow local webhook: after restarts every notification has arrived, each idempotency
key was accepted once, and the only repeats are the ones in flight at a kill (at most one per kill: the
message was accepted but the worker died before marking it sent). See formserver.notify.worker."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from formserver.db.models import Delivery, Notification
from formserver.notify.channels import idempotency_key
from tests.formserver.notify.support import Receiver, add_user, event, notify_config, write_events
from tests.live_server import BIN, ROOT, server_env
from tests.server_support import drop_postgres_database, make_app, postgres_database

pytestmark = pytest.mark.slow
KILLS = 4
COUNT = 300


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'worker.sqlite3'}"
        return
    url, why = postgres_database()
    if url is None:
        pytest.skip(why)
    yield url
    drop_postgres_database(url)


def start_worker(url: str, hook: str, log: Path) -> subprocess.Popen:
    env = server_env(url, FORMSERVER_NOTIFY_WEBHOOK_URL=hook, FORMSERVER_NOTIFY_LEASE_SECONDS="3",
                     FORMSERVER_NOTIFY_SEND_TIMEOUT="1", FORMSERVER_NOTIFY_POLL_SECONDS="0.1",
                     FORMSERVER_NOTIFY_BATCH="5", FORMSERVER_NOTIFY_SCHEDULE_SECONDS="3600")
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([str(BIN / "flask"), "--app", "formserver", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_killed_worker_loses_nothing_and_a_receiver_sees_each_key_once(database_url, tmp_path: Path):
    receiver = Receiver(delay=0.02)
    app = make_app(database_url, tmp_path)
    engine = app.extensions["db_engine"]
    try:
        config = notify_config(app, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
        users = [add_user(app, f"u{n}") for n in range(20)]
        write_events(app, [event(users[n % 20], n, ("inbox", "webhook")) for n in range(COUNT)], config)
        with app.extensions["db_sessions"]() as db:
            expected = {idempotency_key(k, "webhook") for k in db.scalars(select(Notification.dedup_key))}
        assert len(expected) == COUNT

        log = tmp_path / "worker.log"
        rng = random.Random(14)
        for kill in range(KILLS):
            before = len(receiver.requests)
            process = start_worker(database_url, f"{receiver.url}/hook", log)
            wait_for(lambda before=before: len(receiver.requests) > before + 5, 60,
                     f"worker {kill} delivered nothing:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(rng.uniform(0.05, 0.4))
            os.killpg(process.pid, signal.SIGKILL)  # mid-batch: a send in flight, leases held
            process.wait(timeout=10)
        assert len(receiver.accepted) < COUNT, "the worker finished before the last kill: nothing was tested"

        process = start_worker(database_url, f"{receiver.url}/hook", log)
        try:
            def all_sent() -> bool:
                with engine.connect() as connection:
                    return connection.scalar(select(func.count()).select_from(Delivery)
                                             .where(Delivery.status == "sent")) == COUNT
            wait_for(all_sent, 120, f"not all sent:\n{log.read_text(errors='replace')[-3000:]}")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    finally:
        receiver.close()
        engine.dispose()

    assert set(receiver.accepted) == expected  # every notification arrived
    assert set(receiver.accepted.values()) == {1}  # each key accepted once
    assert sum(receiver.repeats.values()) <= KILLS  # resent only what was in flight at a kill
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    assert statuses == {"sent": COUNT}
    engine.dispose()
    print(f"{KILLS} kills, {sum(receiver.repeats.values())} repeated sends (accepted once by key)")
