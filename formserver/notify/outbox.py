"""The outbox: notifications and their deliveries, written in the caller's transaction.

Each event has a dedup key (what happened, to whom); the insert is INSERT … ON CONFLICT (dedup_key) DO
NOTHING, so noticing the same event again (the next scheduling pass, a second worker, a retried
transaction) adds nothing, without a check-then-insert race. Deliveries are inserted only for the
notifications this very statement inserted, so each notification has at most one delivery per channel.
Events found after their usefulness passed (`stale`: a worker that was stopped catching up) go to the inbox
only, and their recipient gets one summary instead of each of them by e-mail and bot.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from formserver.db.models import Delivery, Notification
from formserver.notify import prefs

CHUNK = 500


@dataclass(frozen=True)
class Event:
    """One notification to be: `key` is unique per event and recipient."""

    user_id: int
    kind: str
    key: str
    title: str
    body: str
    link: str
    event_at: dt.datetime  # UTC: when it became due to be told
    channels: tuple[str, ...] = ("inbox",)
    stale: bool = False
    expires_at: dt.datetime | None = None  # UTC: not worth sending after this (the worker summarises instead)


def _insert(db: Session):
    return (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(Notification)


def enqueue(db: Session, events: Sequence[Event], config: Mapping[str, Any], now: dt.datetime,
            local: Callable[[dt.datetime], dt.datetime], utc: Callable[[dt.datetime], dt.datetime]) -> list[int]:
    """Write the notifications of `events` not written before, and their deliveries; the ids written.
    `now` is UTC; `local`/`utc` convert to and from the centre's wall clock (for quiet hours)."""
    if not events:
        return []
    by_key = {e.key: e for e in events}
    inserted: dict[str, int] = {}
    rows = [{"user_id": e.user_id, "kind": e.kind, "dedup_key": e.key, "title": e.title[:200], "body": e.body,
             "link": e.link[:300], "event_at": e.event_at, "created_at": now, "stale": e.stale,
             "read_at": None, "expires_at": e.expires_at} for e in by_key.values()]
    for n in range(0, len(rows), CHUNK):
        stmt = (_insert(db).values(rows[n:n + CHUNK]).on_conflict_do_nothing(index_elements=["dedup_key"])
                .returning(Notification.id, Notification.dedup_key))
        inserted.update({key: id_ for id_, key in db.execute(stmt)})
    if not inserted:
        return []
    new = [(id_, by_key[key]) for key, id_ in inserted.items()]
    user_prefs = prefs.of_users(db, (e.user_id for _, e in new))
    available = prefs.configured(config)
    deliveries = []
    for id_, event in new:
        if event.stale:
            continue
        pref = user_prefs.get(event.user_id)
        quiet = prefs.quiet_until(pref, local(now))
        at = utc(quiet) if quiet else now
        deliveries += [{"notification_id": id_, "channel": channel, "status": "pending", "attempts": 0,
                        "next_attempt_at": at, "worker": "", "last_error": ""}
                       for channel in prefs.channels_for(event.channels, pref, available)]
    for n in range(0, len(deliveries), CHUNK):
        db.execute(insert(Delivery), deliveries[n:n + CHUNK])
    stale = [(id_, e.user_id, e.title, e.event_at, e.channels) for id_, e in new if e.stale]
    return sorted(inserted.values()) + enqueue(db, summaries(stale, now, "summary"), config, now, local, utc)


def summaries(stale: list[tuple[int, int, str, dt.datetime, tuple[str, ...]]], now: dt.datetime,
              prefix: str) -> list[Event]:
    """One summary per person of stale notifications (id, user, title, event_at, channels), keyed by the first
    of them: the same ones summarised again (a pass repeated, a batch retried) make no second summary."""
    per_user: dict[int, list[tuple[int, int, str, dt.datetime, tuple[str, ...]]]] = defaultdict(list)
    for item in stale:
        per_user[item[1]].append(item)
    out = []
    for user_id, items in per_user.items():
        first = min(item[0] for item in items)
        titles = "\n".join(f"· {item[2]}" for item in sorted(items, key=lambda x: x[3])[:10])
        more = f"\n……另有 {len(items) - 10} 条" if len(items) > 10 else ""
        channels = ("inbox", *dict.fromkeys(c for item in items for c in item[4]))
        out.append(Event(user_id, "summary", f"{prefix}:{user_id}:{first}",
                         f"你有 {len(items)} 条提醒已过期,未逐条发送", f"{titles}{more}\n请到站内消息查看。",
                         "/notifications", now, channels))
    return out
