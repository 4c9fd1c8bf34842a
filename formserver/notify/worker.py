"""The delivery worker: leases due deliveries, sends each, marks it sent or schedules a retry.

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING on PostgreSQL, so workers
on several machines each take different rows without waiting on one another; on SQLite the same statement
runs under BEGIN IMMEDIATE (one writer at a time), which serialises claims. A claimed delivery is `sending`
with a lease; a worker killed while holding it leaves the lease to expire, and then any worker takes it up.

A delivery whose notification expired meanwhile (its reminder is of no use any more: a worker stopped for
hours, a receiver down past it) is skipped, and its person gets one summary instead.

The guarantee: every delivery is sent at least once (or skipped as expired, into a summary) and marked once.
A worker killed after a receiver
accepted a message and before the mark committed sends it again after the lease, with the same idempotency
key (the generic webhook's id and Idempotency-Key, the e-mail's Message-ID), so a receiver that deduplicates
by key sees it exactly once. The bots of 企业微信/钉钉/飞书 cannot deduplicate: for them that window (one
message per kill, marked right after its send) may show a message twice. Each send is marked on its own,
never a batch at once, to keep the window that small.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import time
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from formserver.db import write_transaction
from formserver.db.models import Delivery, Notification, NotifyPreference, User, utcnow
from formserver.notify import channels
from formserver.notify.outbox import enqueue, summaries

log = logging.getLogger("formserver.notify")
Sender = Callable[[str, channels.Message, Mapping[str, Any]], None]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(engine: Engine, worker: str, now: dt.datetime, limit: int, lease: float) -> list[int]:
    """Lease up to `limit` deliveries due by `now` (pending, or sending with an expired lease)."""
    due = or_(and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
              and_(Delivery.status == "sending", Delivery.lease_until < now))
    picked = (select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
              .with_for_update(skip_locked=True))  # SQLite ignores it: BEGIN IMMEDIATE already excludes others
    with write_transaction(engine) as connection:
        rows = connection.execute(update(Delivery).where(Delivery.id.in_(picked.scalar_subquery()))
                                  .values(status="sending", worker=worker, attempts=Delivery.attempts + 1,
                                          lease_until=now + dt.timedelta(seconds=lease))
                                  .returning(Delivery.id))
        return sorted(id_ for (id_,) in rows)


def backoff(attempts: int, config: Mapping[str, Any], rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: doubling from NOTIFY_BACKOFF_SECONDS, capped, with full jitter in its
    upper half (so failed deliveries of one outage do not all come back in the same second)."""
    base = float(config["NOTIFY_BACKOFF_SECONDS"]) * 2 ** max(attempts - 1, 0)
    delay = min(base, float(config["NOTIFY_BACKOFF_MAX_SECONDS"]))
    return delay * (0.5 + 0.5 * (rng or random).random())


def _messages(engine: Engine, ids: list[int], base_url: str) -> list[tuple[Delivery, channels.Message, Notification]]:
    with Session(engine) as db:
        rows = db.execute(select(Delivery, Notification, User, NotifyPreference)
                          .join(Notification, Notification.id == Delivery.notification_id)
                          .join(User, User.id == Notification.user_id)
                          .outerjoin(NotifyPreference, NotifyPreference.user_id == User.id)
                          .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
        out = []
        for delivery, note, user, pref in rows:
            link = f"{base_url.rstrip('/')}{note.link}" if note.link.startswith("/") else note.link
            out.append((delivery, channels.Message(
                channels.idempotency_key(note.dedup_key, delivery.channel), note.kind, note.title, note.body, link,
                note.event_at.isoformat(timespec="seconds") + "Z", user.username, user.display_name,
                pref.email if pref else ""), note))
        return out


def _skip_expired(engine: Engine, config: Mapping[str, Any], worker: str, expired: list[tuple[Delivery, Notification]],
                  now: dt.datetime) -> None:
    """Deliveries whose notification is no use any more (a worker stopped for hours, an outage retried past
    it): skipped, and their people told once, in one summary each, in the same transaction."""
    notes = {note.id: note for _, note in expired}
    stale = [(n.id, n.user_id, n.title, n.event_at, tuple(d.channel for d, x in expired if x.id == n.id))
             for n in notes.values()]
    with write_transaction(engine) as connection, Session(bind=connection) as db:
        db.execute(update(Delivery).where(Delivery.id.in_([d.id for d, _ in expired]), Delivery.worker == worker,
                                          Delivery.status == "sending")
                   .values(status="skipped", lease_until=None, last_error="已过期,未发送(已合并到汇总提醒)"))
        zone = zoneinfo.ZoneInfo(config["TIMEZONE"])  # the summaries' quiet hours are on the centre's clock
        enqueue(db, summaries(stale, now, "summary-expired"), config, now,
                lambda t: t.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None),
                lambda t: t.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None))


def _mark(engine: Engine, delivery: Delivery, worker: str, values: dict[str, Any]) -> bool:
    """Record the outcome, if the lease is still ours (a worker whose lease ran out leaves it to the next)."""
    with write_transaction(engine) as connection:
        return connection.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.worker == worker,
                                                         Delivery.status == "sending").values(**values)).rowcount == 1


def deliver(engine: Engine, config: Mapping[str, Any], worker: str, send: Sender = channels.send,
            now: Callable[[], dt.datetime] = utcnow) -> int:
    """Claim one batch and deliver it; how many deliveries were claimed."""
    lease = float(config["NOTIFY_LEASE_SECONDS"])
    started = now()
    ids = claim(engine, worker, started, int(config["NOTIFY_BATCH"]), lease)
    if not ids:
        return 0
    leased_until = started + dt.timedelta(seconds=lease)
    timeout = dt.timedelta(seconds=float(config["NOTIFY_SEND_TIMEOUT"]))
    batch = _messages(engine, ids, str(config["NOTIFY_BASE_URL"]))
    expired = [(d, note) for d, _, note in batch if note.expires_at is not None and started > note.expires_at]
    if expired:
        _skip_expired(engine, config, worker, expired, started)
    for delivery, message, note in batch:
        if note.expires_at is not None and started > note.expires_at:
            continue
        if now() + timeout >= leased_until:  # not enough lease left: give the rest back
            _mark(engine, delivery, worker, {"status": "pending", "lease_until": None,
                                             "attempts": delivery.attempts - 1})
            continue
        try:
            send(delivery.channel, message, config)
        except channels.SendError as error:
            last = delivery.attempts >= int(config["NOTIFY_MAX_ATTEMPTS"])
            log.warning("delivery %s (%s) attempt %s failed: %s", delivery.id, delivery.channel, delivery.attempts,
                        error)
            _mark(engine, delivery, worker, {
                "status": "failed" if last else "pending", "lease_until": None, "last_error": str(error)[:1000],
                "next_attempt_at": now() + dt.timedelta(seconds=backoff(delivery.attempts, config))})
        else:
            _mark(engine, delivery, worker, {"status": "sent", "sent_at": now(), "lease_until": None,
                                             "last_error": ""})
    return len(ids)


def retry(engine: Engine, delivery_ids: list[int]) -> int:
    """An admin's retry of failed deliveries: pending again, now, with a fresh count of attempts, sent however
    late it is (an admin asked for it)."""
    with write_transaction(engine) as connection:
        done = connection.execute(update(Delivery).where(Delivery.id.in_(delivery_ids), Delivery.status == "failed")
                                  .values(status="pending", attempts=0, next_attempt_at=utcnow(),
                                          lease_until=None)).rowcount
        notes = select(Delivery.notification_id).where(Delivery.id.in_(delivery_ids)).scalar_subquery()
        connection.execute(update(Notification).where(Notification.id.in_(notes)).values(expires_at=None))
        return done


def run(engine: Engine, config: Mapping[str, Any], schedule_pass: Callable[[], int],
        stop: Callable[[], bool] = lambda: False) -> None:
    """The worker's loop: the scheduling pass every NOTIFY_SCHEDULE_SECONDS, deliveries whenever due."""
    worker = worker_id()
    poll, every = float(config["NOTIFY_POLL_SECONDS"]), float(config["NOTIFY_SCHEDULE_SECONDS"])
    next_pass = 0.0
    log.info("notification worker %s started", worker)
    while not stop():
        if time.monotonic() >= next_pass:
            try:
                written = schedule_pass()
                if written:
                    log.info("scheduling pass wrote %s notifications", written)
            except Exception:  # a failed pass is retried next time; the deliveries go on meanwhile
                log.exception("scheduling pass failed")
            next_pass = time.monotonic() + every
        try:
            busy = deliver(engine, config, worker)
        except Exception:
            log.exception("delivery failed")
            busy = 0
        if not busy:
            time.sleep(poll)
