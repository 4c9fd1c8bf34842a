"""The pages: the menu's badge counts unread notifications, the inbox marks them read (one's own only), the
settings keep an address, channels and quiet hours, and only admins see and retry failed deliveries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from formserver.db.models import Delivery, NotifyPreference, User
from tests.formserver.notify.support import event, notify_config, write_events
from tests.server_support import csrf_of, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def user_id(app, username: str) -> int:
    with app.extensions["db_sessions"]() as db:
        return db.scalar(select(User.id).where(User.username == username))


def test_the_badge_and_the_inbox(app):
    client = person(app, "zhang")
    other = person(app, "li")
    write_events(app, [event(user_id(app, "zhang"), n, ("inbox",), title=f"提醒{n}") for n in range(3)],
                 notify_config(app))
    home = client.get("/").get_data(as_text=True)
    assert 'id="unread-badge">3<' in home
    assert 'id="unread-badge"' not in other.get("/").get_data(as_text=True)
    page = client.get("/notifications").get_data(as_text=True)
    assert page.count("未读</span>") == 3 and "提醒2" in page
    first = int(page.split('id="n-')[1].split('"')[0])
    # someone else cannot mark it read
    other.post("/notifications/read", data={"id": first, "csrf_token": csrf_of(other.get("/").get_data(as_text=True))})
    assert 'id="unread-badge">3<' in client.get("/").get_data(as_text=True)
    client.post("/notifications/read", data={"id": first, "csrf_token": csrf_of(page)})
    assert 'id="unread-badge">2<' in client.get("/").get_data(as_text=True)
    assert client.get("/notifications?show=unread").get_data(as_text=True).count("未读</span>") == 2
    client.post("/notifications/read", data={"csrf_token": csrf_of(page)})
    assert 'id="unread-badge"' not in client.get("/").get_data(as_text=True)


def test_settings_keep_address_channels_and_quiet_hours(app):
    client = person(app, "wang")
    page = client.get("/notifications/settings").get_data(as_text=True)
    bad = client.post("/notifications/settings", data={"csrf_token": csrf_of(page), "email": "not-an-address"})
    assert bad.status_code == 400 and "电子邮箱格式不对" in bad.get_data(as_text=True)
    half = client.post("/notifications/settings", data={"csrf_token": csrf_of(page), "quiet_start": "22:00"})
    assert half.status_code == 400
    ok = client.post("/notifications/settings", data={"csrf_token": csrf_of(page), "email": "wang@example.test",
                                                       "on_email": "1", "quiet_start": "22:00", "quiet_end": "07:00"})
    assert ok.status_code == 303
    with app.extensions["db_sessions"]() as db:
        pref = db.get(NotifyPreference, user_id(app, "wang"))
    assert (pref.email, pref.quiet_start, pref.quiet_end) == ("wang@example.test", "22:00", "07:00")
    assert "email" not in pref.off and "dingtalk" in pref.off


def test_failed_deliveries_are_listed_for_admins_who_retry_them(app):
    staff = person(app, "zhao")
    admin = person(app, "root", role="admin")
    config = notify_config(app, NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook")
    write_events(app, [event(user_id(app, "zhao"), 1, title="巡查提醒")], config)
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(Delivery.__table__.update().values(status="failed", attempts=6, last_error="HTTP 500"))
    assert staff.get("/notifications/failed").status_code == 403
    page = admin.get("/notifications/failed").get_data(as_text=True)
    assert "巡查提醒" in page and "HTTP 500" in page
    response = admin.post("/notifications/failed/retry", data={"all": "1", "csrf_token": csrf_of(page)})
    assert response.status_code == 303
    with app.extensions["db_sessions"]() as db:
        assert [(d.status, d.attempts) for d in db.scalars(select(Delivery))] == [("pending", 0)]
