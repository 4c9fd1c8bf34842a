"""A person's notification settings, which outside channels the centre has configured, and quiet hours."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formserver.db.models import NotifyPreference

OUTSIDE = ("email", "wecom", "dingtalk", "feishu", "webhook")  # channels with a delivery; "inbox" is the row itself
CONFIG_OF = {"email": "SMTP_HOST", "wecom": "NOTIFY_WECOM_URL", "dingtalk": "NOTIFY_DINGTALK_URL",
             "feishu": "NOTIFY_FEISHU_URL", "webhook": "NOTIFY_WEBHOOK_URL"}


def configured(config: Mapping[str, Any]) -> set[str]:
    """The outside channels whose address is set (in the environment)."""
    return {channel for channel, key in CONFIG_OF.items() if config.get(key)}


def of_users(db: Session, user_ids: Iterable[int]) -> dict[int, NotifyPreference]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {p.user_id: p for p in db.scalars(select(NotifyPreference).where(NotifyPreference.user_id.in_(ids)))}


def channels_for(rule_channels: Iterable[str], pref: NotifyPreference | None, available: set[str]) -> list[str]:
    """The outside channels one notification goes to: named by its rule, configured, not turned off by the
    person; e-mail only to someone who gave an address."""
    off = set(pref.off or []) if pref else set()
    out = []
    for channel in rule_channels:
        if channel not in OUTSIDE or channel not in available or channel in off:
            continue
        if channel == "email" and not (pref and pref.email):
            continue
        out.append(channel)
    return out


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def quiet_until(pref: NotifyPreference | None, local_now: dt.datetime) -> dt.datetime | None:
    """The local time quiet hours end, if `local_now` is within them (22:00–07:00 runs past midnight)."""
    if not pref or not pref.quiet_start or not pref.quiet_end or pref.quiet_start == pref.quiet_end:
        return None
    start, end = _minutes(pref.quiet_start), _minutes(pref.quiet_end)
    now = local_now.hour * 60 + local_now.minute
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    day = local_now.date() if now < end else local_now.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=end)
