"""Records after submission, like a user sees them: photos (uploaded early or with the form, checked by their
bytes, shown only to those who may see the record), corrections as new revisions, delete/restore by
supervisors, old records keeping the form version they were filled against, and the filtered, paged list."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from formserver.db.models import AuditEvent, Case, FormVersion, Photo, Revision, Submission
from tests.server_support import ROOT, csrf_of, form_post, login, make_app, new_form, patrol_values, person
from tests.server_values import count, filled, page_state, submit, submitted

UID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


pytestmark = pytest.mark.usefixtures("cheap_passwords")



@pytest.fixture
def staff(app):
    return person(app, "zhang", name="张三")


def token(client) -> str:
    return csrf_of(client.get("/").get_data(as_text=True))


def image(fmt: str, size: tuple[int, int] = (8, 6)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def upload(client, data: bytes, filename: str, mimetype: str, uid: str = "", item: str = "cctv_photos"):
    uid = uid or new_form(client, "patrol")[2]
    return client.post("/photos", headers={"X-CSRFToken": token(client)}, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename, mimetype), "submission_id": uid, "item": item})


def values_of(app, uid: str, number: int | None = None) -> dict:
    with app.extensions["db_sessions"]() as session:
        query = select(Revision.values).join(Submission).where(Submission.uid == uid)
        query = query.where(Revision.number == number) if number else query.order_by(Revision.number.desc())
        return session.scalars(query).first()


def events(app, action: str, target: str = "") -> list[AuditEvent]:
    with app.extensions["db_sessions"]() as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list(session.scalars(query.where(AuditEvent.target == target) if target else query))


# -- photos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mimetype", "filename"), [("JPEG", "image/jpeg", "监控.jpg"),
                                                           ("PNG", "image/png", "photo.png"),
                                                           ("JPEG", "image/jpg", "IMG_0001.JPG")])
def test_photo_upload_accepts_real_images(app, staff, fmt, mimetype, filename):
    data = image(fmt)
    response = upload(staff, data, filename, mimetype)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert body["size"] == len(data) and body["url"] == f"/photos/{body['id']}"
    shown = staff.get(body["url"])
    assert shown.status_code == 200 and shown.data == data
    assert shown.mimetype == f"image/{fmt.lower()}"


@pytest.mark.parametrize(("data", "filename", "mimetype", "message"), [
    (b"just some text, not a photo\n", "notes.jpg", "image/jpeg", "这个文件不是图片"),
    (b"%PDF-1.7\n", "scan.png", "application/octet-stream", "这个文件不是图片"),
    (None, "photo.png", "image/png", "文件声明为 image/png,实际内容是 JPEG 图片:文件类型与内容不符"),
])
def test_photo_upload_refuses_what_is_not_the_image_it_claims(app, staff, data, filename, mimetype, message):
    response = upload(staff, data or image("JPEG"), filename, mimetype)
    assert response.status_code == 415
    assert message in response.json["error"]
    assert count(app, Photo) == 0


def test_photo_upload_too_big_or_empty(app, staff, monkeypatch):
    big = image("JPEG", (64, 64))
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", len(big) - 1)
    response = upload(staff, big, "big.png", "image/png")
    assert response.status_code == 413 and "照片超过" in response.json["error"]
    empty = upload(staff, b"", "empty.jpg", "image/jpeg")
    assert empty.status_code == 400 and empty.json["error"] == "照片是空文件"
    assert count(app, Photo) == 0
    assert upload(staff, image("PNG"), "small.png", "image/png").status_code == 201


def test_photo_upload_needs_the_csrf_token(app, staff):
    response = staff.post("/photos", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(image("PNG")), "a.png", "image/png"),
                                "submission_id": new_form(staff, "patrol")[2], "item": "cctv_photos"})
    assert response.status_code == 400
    assert count(app, Photo) == 0


def test_photo_of_a_failed_item_is_shown_to_those_who_may_see_the_record(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    jpeg = image("JPEG")
    photo = upload(staff, jpeg, "cctv.jpg", "image/jpeg", uid=uid).json["id"]
    values = patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏", cctv_photos=photo)
    response = staff.post("/forms/patrol", data=form_post(values, csrf, uid))
    assert response.status_code == 303, response.get_data(as_text=True)
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert f'<img src="/photos/{photo}"' in page
    assert values_of(app, uid)["cctv_photos"] == [photo]

    colleague = person(app, "li", name="李四")  # same team, but staff see only their own
    assert colleague.get(f"/photos/{photo}").status_code == 404
    assert colleague.get(f"/records/{uid}").status_code == 404
    boss = person(app, "wang", role="supervisor", name="王主管")
    assert boss.get(f"/photos/{photo}").data == jpeg
    assert f'<img src="/photos/{photo}"' in boss.get(f"/records/{uid}").get_data(as_text=True)
    other_boss = person(app, "zhao", role="supervisor", team="security", name="赵主管")
    assert other_boss.get(f"/photos/{photo}").status_code == 404
    assert person(app, "boss", role="manager", team="office").get(f"/photos/{photo}").status_code == 200


def test_someone_elses_photo_cannot_be_attached(app, staff):
    colleague = person(app, "li", name="李四")
    photo = upload(colleague, image("PNG"), "a.png", "image/png").json["id"]
    response, _uid = submit(staff, "patrol", patrol_values(app, cctv="fault", cctv_note="黑屏", cctv_photos=photo))
    assert response.status_code == 400
    assert "照片不存在或不属于您" in response.get_data(as_text=True)
    assert count(app, Submission) == 0


def test_photo_posted_with_the_form_without_javascript(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    png = image("PNG")
    data = MultiDict(form_post(patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏"), csrf, uid))
    data.add("__file__cctv_photos", (io.BytesIO(png), "现场.png", "image/png"))
    response = staff.post("/forms/patrol", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    [photo] = values_of(app, uid)["cctv_photos"]
    with app.extensions["db_sessions"]() as session:
        stored = session.scalar(select(Photo).where(Photo.uid == photo))
        assert (stored.submission_uid, stored.item_id, stored.data) == (uid, "cctv_photos", png)
    assert f'<img src="/photos/{photo}"' in staff.get(f"/records/{uid}").get_data(as_text=True)


def test_bad_photo_posted_with_the_form_keeps_the_typing(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    values = patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏")
    data = MultiDict(form_post(values, csrf, uid))
    data.add("__file__cctv_photos", (io.BytesIO(b"not an image"), "现场.jpg", "image/jpeg"))
    response = staff.post("/forms/patrol", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "这个文件不是图片" in html
    state, _errors = page_state(html)
    assert sorted(filled(state).items(multi=True)) == sorted(values.items())
    assert count(app, Submission) == 0 and count(app, Photo) == 0


# -- corrections ----------------------------------------------------------------------------------


def correction(client, uid: str, changes: dict, reason: str, base: int | None = None):
    page = client.get(f"/records/{uid}/correct")
    assert page.status_code == 200
    state, _errors = page_state(page.get_data(as_text=True))
    data = MultiDict([(k, v) for k, v in state.items(multi=True) if k != "csrf_token" and v])
    data["csrf_token"] = csrf_of(page.get_data(as_text=True))
    for key, value in changes.items():
        data.setlist(key, [value] if value else [])
    data["reason"] = reason
    if base is not None:
        data["base_revision"] = str(base)
    return client.post(f"/records/{uid}/correct", data=data)


def test_correction_makes_a_new_revision_and_keeps_the_old(app, staff):
    original = patrol_values(app, findings="东门积水")
    uid = submitted(staff, "patrol", original)
    page = staff.get(f"/records/{uid}/correct").get_data(as_text=True)
    state, _errors = page_state(page)
    assert sorted(filled(state).items(multi=True)) == sorted([*original.items(), ("base_revision", "1")])

    response = correction(staff, uid, {"findings": "东门积水,已通知保洁", "windows": "fault",
                                       "windows_note": "二楼窗户破裂"}, reason="补记处理结果")
    assert response.status_code == 303 and response.headers["Location"] == f"/records/{uid}"
    assert count(app, Revision) == 2
    latest = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "东门积水,已通知保洁" in latest and "二楼窗户破裂" in latest and "正在查看第 2 版(共 2 版)" in latest
    assert "原因:补记处理结果" in latest
    first = staff.get(f"/records/{uid}?rev=1").get_data(as_text=True)
    assert "正在查看第 1 版" in first and "东门积水<" in first and "二楼窗户破裂" not in first
    assert staff.get(f"/records/{uid}?rev=3").status_code == 404
    assert values_of(app, uid, 1)["findings"] == "东门积水"
    with app.extensions["db_sessions"]() as session:
        submission = session.scalar(select(Submission).where(Submission.uid == uid))
        assert (submission.revision_count, submission.faults) == (2, 1)
        # The fault found on correction opens its corrective action, once.
        assert session.scalars(select(Case.item_id).where(Case.submission_id == submission.id)).all() == ["windows"]
    assert [e.detail["reason"] for e in events(app, "correct", uid)] == ["补记处理结果"]
    correction(staff, uid, {"findings": "东门积水,已清理", "windows": "fault", "windows_note": "二楼窗户破裂"},
               reason="补记", base=2)
    with app.extensions["db_sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def scores(app, uid: str) -> list[float | None]:
    with app.extensions["db_sessions"]() as session:
        return session.scalars(select(Revision.score).join(Submission).where(Submission.uid == uid)
                               .order_by(Revision.number)).all()


def test_the_patrol_score_is_stored_with_each_revision_shown_and_printed(app, staff):
    from tests.server_values import pdf_text, squeeze

    uid = submitted(staff, "patrol", patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏"))
    assert scores(app, uid) == [91.7]  # 11 of the 12 counted checks 正常
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "巡查合格率 <strong>91.7%</strong>" in page
    assert squeeze("巡查合格率:91.7%(11/12)") in squeeze(pdf_text(staff.get(f"/records/{uid}.pdf").data))

    response = correction(staff, uid, {"windows": "fault", "windows_note": "二楼窗户破裂"}, reason="补记")
    assert response.status_code == 303
    assert scores(app, uid) == [91.7, 83.3]
    assert "巡查合格率 <strong>83.3%</strong>" in staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "巡查合格率 <strong>91.7%</strong>" in staff.get(f"/records/{uid}?rev=1").get_data(as_text=True)

    from tests.server_values import minimal_formdata

    visitors = submitted(staff, "visitor-register",  # a form without a score
                         minimal_formdata(app.extensions["catalogue"].forms["visitor-register"]))
    assert scores(app, visitors) == [None]
    assert "合格率" not in staff.get(f"/records/{visitors}").get_data(as_text=True)


def test_correction_needs_a_reason_and_keeps_the_typing(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app))
    response = correction(staff, uid, {"findings": "补充内容"}, reason="  ")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请写明更正原因" in html
    state, _errors = page_state(html)
    assert state["findings"] == "补充内容"
    invalid = correction(staff, uid, {"inspector": ""}, reason="改名")
    assert invalid.status_code == 400
    assert page_state(invalid.get_data(as_text=True))[1] == {"inspector": ["此项必填"]}
    assert "改名" in invalid.get_data(as_text=True)
    assert count(app, Revision) == 1


def test_stale_correction_is_a_conflict(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app))
    assert correction(staff, uid, {"findings": "第一次更正"}, reason="一").status_code == 303
    stale = correction(staff, uid, {"findings": "基于旧版的更正"}, reason="二", base=1)
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "记录已被更正为第 2 版" in html and "基于旧版的更正" in html
    assert count(app, Revision) == 2
    assert values_of(app, uid)["findings"] == "第一次更正"


def test_who_may_correct(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app))
    colleague = person(app, "li", name="李四")
    assert colleague.get(f"/records/{uid}/correct").status_code == 404
    boss = person(app, "wang", role="supervisor", name="王主管")
    assert correction(boss, uid, {"findings": "主管补记"}, reason="主管审核").status_code == 303
    assert "王主管" in staff.get(f"/records/{uid}").get_data(as_text=True)


# -- delete and restore ------------------------------------------------------------------------------


def test_only_supervisors_delete_and_restore_with_a_reason(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app))
    assert staff.post(f"/records/{uid}/delete", data={"csrf_token": token(staff), "reason": "填错"}).status_code == 403
    boss = person(app, "wang", role="supervisor", name="王主管")

    no_reason = boss.post(f"/records/{uid}/delete", data={"csrf_token": token(boss), "reason": " "})
    assert no_reason.status_code == 303
    assert "请写明删除或恢复的原因" in boss.get(no_reason.headers["Location"]).get_data(as_text=True)
    assert count(app, Submission, Submission.status == "deleted") == 0

    deleted = boss.post(f"/records/{uid}/delete", data={"csrf_token": token(boss), "reason": "重复填写"})
    assert deleted.status_code == 303
    page = boss.get(f"/records/{uid}").get_data(as_text=True)
    assert "已删除" in page and "删除:重复填写" in page and "恢复记录" in page
    assert count(app, Submission, Submission.status == "deleted") == 1
    assert uid not in staff.get("/records").get_data(as_text=True)
    assert staff.get(f"/records/{uid}/correct").status_code == 403  # deleted records are not corrected

    assert boss.post(f"/records/{uid}/restore", data={"csrf_token": token(boss), "reason": "误删"}).status_code == 303
    assert count(app, Submission, Submission.status == "submitted") == 1
    assert [(e.username, e.detail["reason"]) for e in events(app, "delete", uid)] == [("wang", "重复填写")]
    assert [(e.username, e.detail["reason"]) for e in events(app, "restore", uid)] == [("wang", "误删")]
    other_team = person(app, "zhao", role="supervisor", team="security")
    assert other_team.post(f"/records/{uid}/delete",
                           data={"csrf_token": token(other_team), "reason": "x"}).status_code == 404


# -- a record keeps its form version -----------------------------------------------------------------


def test_old_record_keeps_the_form_version_it_was_filled_against(server_app, app, tmp_path):
    project = tmp_path / "project"
    for folder in ("regulations", "checklists"):
        shutil.copytree(ROOT / folder, project / folder)
    url = server_app.config["DATABASE_URL"]
    old_app = make_app(url, tmp_path, HANDBOOK_ROOT=str(project))
    try:
        client = person(old_app, "zhang", name="张三")
        uid = submitted(client, "patrol", patrol_values(old_app, findings="东门积水"))
    finally:
        old_app.extensions["db_engine"].dispose()

    path = project / "checklists" / "patrol.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("label: 发现的问题及处理结果", "label: 巡查发现及处理情况")
    old = re.search(r'^revision: "([\d.]+)"', text, re.M).group(1)
    new = f"{old}.1"
    text = text.replace(f'revision: "{old}"', f'revision: "{new}"')
    text = text.replace("      - {id: recheck,", "      - {id: weather, kind: text, label: 天气情况}\n"
                                                   "      - {id: recheck,")
    path.write_text(text, encoding="utf-8")
    new_app = make_app(url, tmp_path, HANDBOOK_ROOT=str(project))
    try:
        client = new_app.test_client()
        assert login(client, "zhang").status_code == 302
        record = client.get(f"/records/{uid}").get_data(as_text=True)
        assert "发现的问题及处理结果" in record and "巡查发现及处理情况" not in record and "天气情况" not in record
        assert "东门积水" in record and f"第 {old} 版(表单已有新版本" in record
        fresh = client.get("/forms/patrol").get_data(as_text=True)
        assert "巡查发现及处理情况" in fresh and "天气情况" in fresh and f"第 {new} 版" in fresh
        # Corrections use the record's own version too.
        corrected = client.get(f"/records/{uid}/correct").get_data(as_text=True)
        assert "发现的问题及处理结果" in corrected and "天气情况" not in corrected
        new_uid = submitted(client, "patrol", patrol_values(new_app, weather="小雨"))
        assert "天气情况" in client.get(f"/records/{new_uid}").get_data(as_text=True)
        with new_app.extensions["db_sessions"]() as session:
            versions = dict(session.execute(select(Submission.uid, FormVersion.revision)
                                            .join(FormVersion, FormVersion.id == Submission.form_version_id)).all())
        assert versions == {uid: old, new_uid: new}
    finally:
        new_app.extensions["db_engine"].dispose()


# -- the list ---------------------------------------------------------------------------------------


def listed(client, query: str = "") -> list[str]:
    response = client.get(f"/records{query}")
    assert response.status_code == 200
    return re.findall(rf'<td data-label="表单"><a href="/records/({UID})">', response.get_data(as_text=True))


@pytest.fixture
def history(app, staff):
    """Six records: two people, two forms, three dates, a fault, a correction, a deletion."""
    li = person(app, "li", name="李四")
    boss = person(app, "wang", role="supervisor", name="王主管")
    uids = {
        "old": submitted(staff, "patrol", patrol_values(app, date="2026-11-01")),
        "fault": submitted(staff, "patrol", patrol_values(app, date="2026-11-10", cctv="fault", cctv_note="黑屏")),
        "visit": submitted(staff, "visitor-register", {
            "date": "2026-11-10", "visits-0-visitor_identity": "顾客", "visits-0-name": "访客", "visits-0-phone": "1",
            "visits-0-purpose": "咨询", "visits-0-visit_time": "10:00", "visits-0-receptionist": "张三"}),
        "li": submitted(li, "patrol", patrol_values(app, date="2026-11-20", inspector="李四")),
        "corrected": submitted(li, "patrol", patrol_values(app, date="2026-11-21", inspector="李四")),
        "deleted": submitted(staff, "patrol", patrol_values(app, date="2026-11-22")),
    }
    assert correction(li, uids["corrected"], {"findings": "补"}, reason="补记").status_code == 303
    assert boss.post(f"/records/{uids['deleted']}/delete",
                     data={"csrf_token": token(boss), "reason": "重复"}).status_code == 303
    return uids, staff, li, boss


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["corrected", "li", "visit", "fault", "old"]),
    ("?form=patrol", ["corrected", "li", "fault", "old"]),
    ("?form=visitor-register", ["visit"]),
    ("?from=2026-11-10&to=2026-11-20", ["li", "visit", "fault"]),
    ("?from=2026-11-21", ["corrected"]),
    ("?person=li", ["corrected", "li"]),
    ("?person=zhang&form=patrol", ["fault", "old"]),
    ("?status=faults", ["fault"]),
    ("?status=corrected", ["corrected"]),
    ("?status=deleted", ["deleted"]),
    ("?person=nobody", []),
])
def test_supervisor_list_filters(history, query, expected):
    uids, _staff, _li, boss = history
    assert listed(boss, query) == [uids[name] for name in expected]


def test_staff_list_only_their_own(history):
    uids, staff, li, _boss = history
    assert listed(staff) == [uids[n] for n in ("visit", "fault", "old")]
    assert listed(li, "?person=zhang") == []
    assert listed(li) == [uids["corrected"], uids["li"]]


def test_list_filter_errors_are_shown_in_chinese(history):
    _uids, _staff, _li, boss = history
    html = boss.get("/records?from=2026-13-01&form=nope&status=weird").get_data(as_text=True)
    assert "日期 “2026-13-01” 格式不对" in html and "没有表单 “nope”" in html and "状态筛选无效" in html


def test_list_pages_newest_first_without_gaps_or_repeats(app, staff, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    made = [submitted(staff, "patrol", patrol_values(app, date=f"2026-11-{day:02d}")) for day in range(1, 6)]
    seen, url, pages = [], "/records?form=patrol", 0
    while url:
        html = staff.get(url).get_data(as_text=True)
        seen += re.findall(rf'<td data-label="表单"><a href="/records/({UID})">', html)
        more = re.search(r'<a class="button" href="([^"]+)">更早的记录', html)
        url = more.group(1).replace("&amp;", "&") if more else ""
        assert not url or "form=patrol" in url
        pages += 1
    assert pages == 3
    assert seen == made[::-1]


def test_an_upload_over_the_request_limit_gets_the_chinese_message_the_page_shows(app, staff, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = upload(staff, image("PNG", (400, 400)) + b"\0" * 8192, "big.png", "image/png")
    assert response.status_code == 413
    assert response.get_json() == {"error": "文件太大:上传的内容超过了大小限制,请压缩照片后重试。"}
