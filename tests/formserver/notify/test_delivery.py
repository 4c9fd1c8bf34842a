"""The outbox and the worker against local receivers: one notification per dedup key, written in the caller's
transaction; every bot's format and signature; e-mail through a local SMTP server; quiet hours; retries with
backoff until failed, and an admin's retry; two workers sharing one database never send a delivery twice."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import threading

import pytest
from sqlalchemy import func, select

from formserver.db import write_transaction
from formserver.db.models import Delivery, Notification, NotifyPreference, utcnow
from formserver.notify import channels, prefs, worker
from formserver.notify.outbox import enqueue
from tests.formserver.notify.support import Receiver, add_user, event, notify_config, write_events
from tests.live_server import free_port


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def count(app, model, *where) -> int:
    with app.extensions["db_sessions"]() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def deliveries(app) -> list[Delivery]:
    with app.extensions["db_sessions"]() as db:
        return list(db.scalars(select(Delivery).order_by(Delivery.id)))


def drain(app, config, worker_name: str = "w1", rounds: int = 50) -> None:
    for _ in range(rounds):
        if not worker.deliver(app.extensions["db_engine"], config, worker_name):
            return


def test_an_event_is_written_once_in_the_callers_transaction(app):
    user = add_user(app, "zhang")
    config = notify_config(app, NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook")
    cat = app.extensions["catalogue"]
    from sqlalchemy.orm import Session
    with pytest.raises(RuntimeError), write_transaction(app.extensions["db_engine"]) as connection:
        with Session(bind=connection) as db:
            assert len(enqueue(db, [event(user, 1)], config, utcnow(), cat.local, cat.utc)) == 1
        raise RuntimeError("the event's own transaction fails")
    assert count(app, Notification) == 0 and count(app, Delivery) == 0  # rolled back with it
    assert len(write_events(app, [event(user, 1), event(user, 2)], config)) == 2
    assert write_events(app, [event(user, 1), event(user, 2), event(user, 3)], config) != []  # only 3 is new
    assert count(app, Notification) == 3
    assert count(app, Delivery, Delivery.channel == "webhook") == 3  # one per notification and channel
    assert count(app, Delivery, Delivery.channel == "email") == 0  # no address, no e-mail


def test_every_bot_gets_its_own_format_and_signature(app, receiver):
    user = add_user(app, "li")
    config = notify_config(app, NOTIFY_WECOM_URL=f"{receiver.url}/wecom?key=K",
                           NOTIFY_DINGTALK_URL=f"{receiver.url}/dingtalk?access_token=T",
                           NOTIFY_DINGTALK_SECRET="SECding", NOTIFY_FEISHU_URL=f"{receiver.url}/feishu",
                           NOTIFY_FEISHU_SECRET="feishu-secret", NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook",
                           NOTIFY_WEBHOOK_SECRET="hook-secret")
    every = ("inbox", "wecom", "dingtalk", "feishu", "webhook")
    write_events(app, [event(user, 1, every, title="巡查表应于 10:00 提交")], config)
    drain(app, config)
    assert {d.status for d in deliveries(app)} == {"sent"}
    got = {r.path: r for r in receiver.requests}
    assert set(got) == {"/wecom", "/dingtalk", "/feishu", "/hook"}

    wecom = got["/wecom"]
    assert wecom.query == {"key": "K"} and wecom.body["msgtype"] == "markdown"
    content = wecom.body["markdown"]["content"]
    assert "巡查表应于 10:00 提交" in content and "li姓名" in content

    ding = got["/dingtalk"]
    assert ding.body["msgtype"] == "markdown" and ding.body["markdown"]["title"] == "巡查表应于 10:00 提交"
    stamp = ding.query["timestamp"]
    expected = base64.b64encode(hmac.new(b"SECding", f"{stamp}\nSECding".encode(), hashlib.sha256).digest()).decode()
    assert ding.query["access_token"] == "T" and ding.query["sign"] == expected

    feishu = got["/feishu"]
    assert feishu.body["msg_type"] == "text" and "巡查表应于 10:00 提交" in feishu.body["content"]["text"]
    key = f"{feishu.body['timestamp']}\nfeishu-secret".encode()
    assert feishu.body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()

    hook = got["/hook"]
    assert hook.body["id"] == hook.headers["Idempotency-Key"] and hook.body["recipient"]["username"] == "li"
    assert hook.body["link"].endswith("/forms/patrol?n=1") and hook.body["link"].startswith("http")
    raw = channels.json.dumps(hook.body, ensure_ascii=False).encode()
    assert hook.headers["X-Signature"] == hmac.new(b"hook-secret", raw, hashlib.sha256).hexdigest()


def test_a_bot_error_code_is_a_failure(app, receiver):
    receiver.reply = {"errcode": 310000, "errmsg": "sign not match"}
    user = add_user(app, "wang")
    config = notify_config(app, NOTIFY_DINGTALK_URL=f"{receiver.url}/dingtalk", NOTIFY_MAX_ATTEMPTS=1)
    write_events(app, [event(user, 1, ("dingtalk",))], config)
    drain(app, config)
    [delivery] = deliveries(app)
    assert delivery.status == "failed" and "310000" in delivery.last_error


def test_email_goes_through_a_local_smtp_server(app):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        user = add_user(app, "zhao")
        with app.extensions["db_sessions"].begin() as db:
            db.add(NotifyPreference(user_id=user, email="zhao@example.test", off=[]))
        config = notify_config(app, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="notify@centre.test")
        write_events(app, [event(user, 1, ("inbox", "email"), title="投诉回复即将到期")], config)
        drain(app, config)
        # the same delivery once more (a retry after a lost mark) keeps its Message-ID
        [delivery] = deliveries(app)
        assert delivery.status == "sent"
    finally:
        controller.stop()
    [envelope] = handler.messages
    assert envelope.rcpt_tos == ["zhao@example.test"] and envelope.mail_from == "notify@centre.test"
    text = envelope.content.decode()
    assert "Message-ID: <" in text and "@centre.test>" in text
    assert "投诉回复即将到期" in envelope.original_content.decode("utf-8", "replace") or "=?utf-8?" in text


def test_quiet_hours_hold_outside_channels_until_they_end(app, receiver):
    cat = app.extensions["catalogue"]
    user = add_user(app, "sun")
    with app.extensions["db_sessions"].begin() as db:
        db.add(NotifyPreference(user_id=user, email="", off=[], quiet_start="22:00", quiet_end="07:00"))
    config = notify_config(app, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    at_night = cat.utc(dt.datetime(2026, 11, 23, 23, 30))
    write_events(app, [event(user, 1)], config, now=at_night)
    [delivery] = deliveries(app)
    assert cat.local(delivery.next_attempt_at) == dt.datetime(2026, 11, 24, 7, 0)
    assert count(app, Notification) == 1  # the inbox has it at once
    assert worker.deliver(app.extensions["db_engine"], config, "w", now=lambda: at_night) == 0
    morning = cat.utc(dt.datetime(2026, 11, 24, 7, 1))
    assert worker.deliver(app.extensions["db_engine"], config, "w", now=lambda: morning) == 1
    assert len(receiver.requests) == 1
    # the rule itself, across midnight and by day
    pref = NotifyPreference(quiet_start="12:00", quiet_end="13:30")
    assert prefs.quiet_until(pref, dt.datetime(2026, 1, 1, 12, 10)) == dt.datetime(2026, 1, 1, 13, 30)
    assert prefs.quiet_until(pref, dt.datetime(2026, 1, 1, 13, 30)) is None


def test_a_channel_turned_off_gets_nothing(app, receiver):
    user = add_user(app, "zhou")
    with app.extensions["db_sessions"].begin() as db:
        db.add(NotifyPreference(user_id=user, off=["webhook"]))
    write_events(app, [event(user, 1)], notify_config(app, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook"))
    assert deliveries(app) == [] and count(app, Notification) == 1


@pytest.mark.parametrize("fault", ["500", "closed"])
def test_an_unreachable_receiver_is_retried_with_backoff_then_failed_and_an_admin_retries(app, receiver, fault):
    user = add_user(app, "wu")
    url = f"{receiver.url}/hook" if fault == "500" else f"http://127.0.0.1:{free_port()}/hook"
    receiver.status = 500
    config = notify_config(app, NOTIFY_WEBHOOK_URL=url, NOTIFY_MAX_ATTEMPTS=3, NOTIFY_BACKOFF_SECONDS=0.2,
                           NOTIFY_BACKOFF_MAX_SECONDS=10)
    write_events(app, [event(user, 1)], config)
    engine = app.extensions["db_engine"]
    assert worker.deliver(engine, config, "w") == 1
    [d] = deliveries(app)
    assert (d.status, d.attempts) == ("pending", 1) and d.next_attempt_at > utcnow()  # backed off
    assert worker.deliver(engine, config, "w") == 0  # not yet due
    for attempt in (2, 3):
        later = utcnow() + dt.timedelta(seconds=10 * attempt)
        assert worker.deliver(engine, config, "w", now=lambda later=later: later) == 1
    [d] = deliveries(app)
    assert (d.status, d.attempts) == ("failed", 3)
    assert ("HTTP 500" if fault == "500" else "Error") in d.last_error
    assert worker.backoff(1, config) <= 0.2 < worker.backoff(3, config) * 2  # doubling, with jitter

    assert worker.retry(engine, [d.id]) == 1
    receiver.status = 200
    config["NOTIFY_WEBHOOK_URL"] = f"{receiver.url}/hook"
    drain(app, config)
    [d] = deliveries(app)
    assert d.status == "sent" and d.attempts == 1


def test_two_workers_never_send_one_delivery_twice(app, receiver):
    users = [add_user(app, f"u{n}") for n in range(10)]
    config = notify_config(app, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook", NOTIFY_BATCH=7)
    write_events(app, [event(u, n) for n in range(20) for u in users], config)
    errors = []

    def run(name: str) -> None:
        try:
            drain(app, config, name, rounds=200)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"worker-{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert len(keys) == 200 and len(set(keys)) == 200  # every one, none twice (not even before dedup)
    workers = {d.worker for d in deliveries(app)}
    assert {d.status for d in deliveries(app)} == {"sent"} and len(workers) == 2


def test_a_delivery_that_expired_while_waiting_is_skipped_into_one_summary(app, receiver):
    """A worker stopped past a reminder's usefulness (or a receiver down past it) does not send it late."""
    user = add_user(app, "qian")
    config = notify_config(app, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    gone = utcnow() - dt.timedelta(minutes=1)
    write_events(app, [event(user, n, expires_at=gone, title=f"巡查提醒 {n}") for n in range(3)]
                 + [event(user, 9, title="仍然有用")], config)
    drain(app, config)
    by_kind: dict[str, list[str]] = {}
    with app.extensions["db_sessions"]() as db:
        for delivery in db.scalars(select(Delivery).order_by(Delivery.id)):
            by_kind.setdefault(delivery.notification.kind, []).append(delivery.status)
        summary = db.scalar(select(Notification).where(Notification.kind == "summary"))
    assert by_kind == {"form_due": ["skipped", "skipped", "skipped", "sent"], "summary": ["sent"]}
    assert summary.title == "你有 3 条提醒已过期,未逐条发送" and "巡查提醒 0" in summary.body
    assert sorted(r.body["title"] for r in receiver.requests) == ["仍然有用", "你有 3 条提醒已过期,未逐条发送"]
