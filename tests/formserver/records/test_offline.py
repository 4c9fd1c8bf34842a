"""The server side of offline filling: the replay of a queued submission (stored once however often it
arrives, refused with problems the phone can show, the phone's fill time kept beside the server's), photos
sent with the phone's own ids, the session the outbox asks for, the service worker and manifest."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid

import pytest
from sqlalchemy import select

from formserver import db
from formserver.db.models import Photo, Submission
from formserver.records.offline import filled_at
from tests.server_support import create_user, form_post, login, new_form, patrol_values
from tests.server_values import count

pytestmark = pytest.mark.usefixtures("cheap_passwords")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def staff(app, client):
    create_user(app, "zhang", display_name="张三")
    assert login(client, "zhang").status_code == 302
    return client


def session_of(client) -> dict:
    response = client.get("/offline/session")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def replay(client, values: dict, uid: str, filled: str | None = "2026-11-23T09:31:00+08:00"):
    csrf = session_of(client)["csrf"]
    data = form_post(values, csrf, uid)
    if filled is not None:
        data["client_filled_at"] = filled
    return client.post("/forms/patrol/queued", data=data, headers={"X-CSRFToken": csrf})


def stored(app, uid: str) -> Submission:
    with app.app_context():
        return db.session().scalar(select(Submission).where(Submission.uid == uid))


def test_the_session_names_whose_outbox_may_be_sent(app, staff):
    me = session_of(staff)
    assert me["name"] == "张三" and me["csrf"] and isinstance(me["user"], int)
    assert app.test_client().get("/offline/session").status_code == 302  # logged out: to the login page


def test_a_queued_submission_is_stored_once_with_the_phones_fill_time(app, staff):
    uid = str(uuid.uuid4())
    first = replay(staff, patrol_values(app), uid)
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.get_json() == {"status": "created", "uid": uid, "url": f"/records/{uid}"}
    again = replay(staff, patrol_values(app), uid)  # the answer was lost: the phone sends it again
    assert again.status_code == 200 and again.get_json()["status"] == "stored"
    assert count(app, Submission) == 1
    record = stored(app, uid)
    assert record.client_filled_at == dt.datetime(2026, 11, 23, 1, 31)  # UTC
    assert record.created_at > record.client_filled_at  # the server's receive time is kept apart
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "本机填写于 2026-11-23 09:31:00(离线保存)· 服务器接收于" in page


def test_a_refused_replay_lists_the_problems_and_stores_nothing(app, staff):
    uid = str(uuid.uuid4())
    response = replay(staff, patrol_values(app, showroom=None, patrol_time="25:99"), uid)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"].startswith("有未填写或填写有误的项目")
    assert any(p.startswith("样板间整洁、设施完好:") for p in body["problems"]), body["problems"]
    assert any(p.startswith("巡查时间:") for p in body["problems"]), body["problems"]
    assert count(app, Submission) == 0


def test_the_same_id_with_other_content_is_a_conflict_with_a_link(app, staff):
    uid = str(uuid.uuid4())
    assert replay(staff, patrol_values(app), uid).status_code == 201
    response = replay(staff, patrol_values(app, findings="另一份内容"), uid)
    assert response.status_code == 409
    assert response.get_json()["link"] == f"/records/{uid}"
    assert "提交编号已用于另一份内容不同的记录" in response.get_json()["error"]


def test_a_form_no_longer_in_use_is_refused_in_words(app, staff):
    csrf = session_of(staff)["csrf"]
    response = staff.post("/forms/retired-form/queued", data={"csrf_token": csrf}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 404 and "已不再使用" in response.get_json()["error"]


def test_a_replay_without_the_sessions_token_is_refused(app, staff):
    data = form_post(patrol_values(app), "stale", str(uuid.uuid4()))
    assert staff.post("/forms/patrol/queued", data=data).status_code == 400
    assert count(app, Submission) == 0


@pytest.mark.parametrize("text, expected", [
    ("2026-11-23T09:31:00+08:00", dt.datetime(2026, 11, 23, 1, 31)),
    ("2026-11-23T01:31:00.250Z", dt.datetime(2026, 11, 23, 1, 31, 0, 250000)),
    ("2026-11-23T09:31:00", None),  # no offset: whose clock?
    ("yesterday", None), ("", None), (None, None),
    ("2000-01-01T00:00:00Z", None),  # a phone whose clock was never set
    ("2099-01-01T00:00:00Z", None),
])
def test_the_phones_fill_time_is_read_strictly(text, expected, monkeypatch):
    import formserver.records.offline as offline

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(offline.dt, "datetime", Clock)
    assert filled_at(text) == expected


def test_a_photo_sent_again_with_the_phones_id_is_one_photo(app, staff):
    _, csrf, uid = new_form(staff, "patrol")
    photo_id = str(uuid.uuid4())

    def send():
        return staff.post("/photos", data={"file": (io.BytesIO(PNG), "a.png", "image/png"), "submission_id": uid,
                                           "item": "corridor_photos", "id": photo_id},
                          headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    assert send().status_code == 201
    again = send()
    assert again.status_code == 200 and again.get_json()["id"] == photo_id
    assert count(app, Photo) == 1
    bad = staff.post("/photos", data={"file": (io.BytesIO(PNG), "a.png"), "submission_id": uid, "item": "x",
                                      "id": "not-a-uuid"}, headers={"X-CSRFToken": csrf})
    assert bad.status_code == 400 and "编号" in bad.get_json()["error"]
    other = app.test_client()
    create_user(app, "li", display_name="李四")
    login(other, "li")
    page = other.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    taken = other.post("/photos", data={"file": (io.BytesIO(PNG), "a.png", "image/png"), "submission_id": uid,
                                        "item": "corridor_photos", "id": photo_id}, headers={"X-CSRFToken": token})
    assert taken.status_code == 409
    # A queued patrol naming the photo stores it with the record.
    values = patrol_values(app, corridor="fault", corridor_photos=photo_id, corridor_note="走廊堆放杂物,已通知保洁")
    response = replay(staff, values, uid)
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session().scalar(select(Photo.submission_uid).where(Photo.uid == photo_id)) == uid


def test_the_service_worker_lists_the_static_files_and_changes_with_them(app, client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    assets = json.loads(re.search(r"const ASSETS = (\[.*?\]);", text).group(1))
    assert {"/static/app.js", "/static/outbox.js", "/static/offline.js", "/static/app.css",
            "/static/icons/icon-192.png"} <= set(assets)
    assert 'importScripts("/static/outbox.js")' in text
    assert re.search(r'const VERSION = "[0-9a-f]{16}";', text)


def test_the_manifest_makes_an_installable_app(app, client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["display"] == "standalone" and manifest["lang"] == "zh-CN" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200 and image.mimetype == "image/png"
    assert "maskable" in {icon["purpose"] for icon in manifest["icons"]}


def test_pages_allow_the_worker_and_manifest_under_the_csp(app, staff):
    page = staff.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp
    html = page.get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'id="outbox"' in html and '<meta name="user-id"' in html


def test_the_home_page_names_the_forms_this_person_uses(app, staff):
    assert replay(staff, patrol_values(app), str(uuid.uuid4())).status_code == 201
    html = staff.get("/").get_data(as_text=True)
    used = re.search(r'data-used-forms="([^"]+)"', html).group(1).replace("&#34;", '"')
    assert json.loads(used) == ["/forms/patrol"]
