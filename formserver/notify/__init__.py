"""Notifications: people are told of forms due and missed, case deadlines (escalated to their supervisor),
blocked handovers, revised regulations to re-acknowledge and learning paths due, in an in-app inbox and by
e-mail and group-chat bots (企业微信, 钉钉, 飞书, a generic JSON webhook).

Which events, lead times and escalation come from checklists/rules/notifications.yaml. The scheduling pass
(`scheduler`) turns due times and deadlines into notifications, `producers` the events other parts emit in
their own transaction (records.hooks.emit); `outbox` writes them with their deliveries in
one transaction, once per dedup key; the worker (`worker`, `flask --app formserver worker`) leases deliveries
and sends them (`channels`) with retries. `views` are the inbox, the settings and the admin's failed list.
May import `base`, `db`, `accounts`, `forms`, `records`, `operations` and `training`.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from sqlalchemy import func, select

from formserver import db
from formserver.db.models import Notification
from formserver.notify import producers
from formserver.records import hooks


def unread_count() -> int:
    """The current user's unread notifications (the badge in the menu)."""
    if not current_user.is_authenticated:
        return 0
    return db.session().scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))) or 0


def init_app(app: Flask) -> None:
    """The menu's badge and the events told in their own transaction; the blueprint (views.bp) is registered
    by app.factory."""
    app.jinja_env.globals["unread_notifications"] = unread_count
    hooks.of(app).on_event.append(producers.on_event)
