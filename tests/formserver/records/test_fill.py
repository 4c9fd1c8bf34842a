"""Filling forms through the web pages, like a browser: every checklist renders and accepts a minimal post;
bad posts come back (400) with Chinese errors beside the fields and everything typed kept; an expired page
keeps the typing too; the same submission posted twice is stored once; drafts save and restore exactly
what was typed."""

from __future__ import annotations

import json
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from formserver.db.models import Draft, Revision, Submission
from formserver.forms.webforms import FAULT_NOTE, REQUIRED
from tests.server_support import ROOT, create_user, csrf_of, form_post, login, new_form, patrol_values
from tests.server_values import (
    count,
    filled,
    minimal_formdata,
    page_state,
    pdf_text,
    squeeze,
    submit,
    submitted,
    typed_texts,
)

FORM_IDS = sorted(p.stem for p in (ROOT / "checklists").glob("*.yaml"))
EXPIRED = "页面已过期"


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def staff(app, client):
    """A client logged in as staff member 张三."""
    create_user(app, "zhang", display_name="张三")
    assert login(client, "zhang").status_code == 302
    return client


def catalogue_form(app, form_id):
    return app.extensions["catalogue"].forms[form_id]


def post(client, form_id, data: MultiDict):
    return client.post(f"/forms/{form_id}", data=data)


# -- every form ------------------------------------------------------------------------------------


def test_checklists_are_all_offered(app, staff):
    assert set(FORM_IDS) == set(app.extensions["catalogue"].forms)
    home = staff.get("/").get_data(as_text=True)
    forms = sorted(app.extensions["catalogue"].forms.values(), key=lambda f: f.number)
    for form in forms:
        assert f'href="/forms/{form.id}"' in home and str(escape(form.title)) in home
    offered = [home.index(f'href="/forms/{form.id}"') for form in forms]
    assert offered == sorted(offered), "forms are listed in their paper order (form number)"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form_page_shows_every_item(app, staff, form_id):
    response = staff.get(f"/forms/{form_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    form = catalogue_form(app, form_id)
    assert f"<h1>{escape(form.title)}</h1>" in html
    for item in form.all_items():
        assert str(escape(item.label)) in html, item.id
        for column in item.columns:
            assert str(escape(column.label)) in html, f"{item.id}.{column.id}"
    assert "提交" in html


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_minimal_valid_post_is_stored_and_printed(app, staff, form_id, server_app, request):
    form = catalogue_form(app, form_id)
    data = minimal_formdata(form)
    uid = submitted(staff, form_id, data)
    assert count(app, Submission, Submission.uid == uid) == 1

    page = staff.get(f"/records/{uid}?submitted=1").get_data(as_text=True)
    assert "已提交" in page
    for text in typed_texts(data):
        assert f"{text}<" in page or f"{text} " in page or f"{text}\n" in page, text
    if "2026-11-23" in data.values():
        assert "2026-11-23" in page

    # The PDF is rendered the same way on both backends: print every form once (SQLite), patrol on both.
    if request.node.callspec.id.endswith("postgresql") and form_id != "patrol":
        return
    response = staff.get(f"/records/{uid}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = squeeze(pdf_text(response.data))
    assert squeeze(form.title) in text
    for typed in typed_texts(data):
        if not any(typed in v and v != typed for v in typed_texts(data)):
            assert typed in text, typed


def test_without_script_a_conditional_item_shows_and_the_server_drops_it(app, staff):
    """The page shows every item (app.js hides them), each conditional one with its instruction; what the answers
    hide is dropped: not on the record page, not on its PDF (which prints the instruction instead)."""
    html = staff.get("/forms/patrol").get_data(as_text=True)
    tag = re.search(r'<fieldset[^>]*id="item-suspicious_reported"[^>]*>', html).group(0)
    condition = json.loads(re.search(r"data-show-when='([^']*)'", tag).group(1))
    assert condition == {"op": "is", "item": "suspicious_person", "values": ["yes"], "parts": []}
    assert " hidden" not in tag and " disabled" not in html
    assert html.count("若“发现可疑人物”为“是”,填写本项") == 2  # 已立刻报告安全部 and the note below it
    uid = submitted(staff, "patrol", patrol_values(app, suspicious_reported="yes", suspicious_note="不该保存"))
    stored = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "发现可疑人物" in stored and "已立刻报告安全部" not in stored and "不该保存" not in stored
    text = squeeze(pdf_text(staff.get(f"/records/{uid}.pdf").data))
    assert "不该保存" not in text and squeeze("若“发现可疑人物”为“是”,填写本项") in text

    uid = submitted(staff, "patrol", patrol_values(app, suspicious_person="yes", suspicious_reported="yes",
                                                   suspicious_note="已报安全部"))
    stored = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "已立刻报告安全部" in stored and "已报安全部" in stored


# -- invalid posts come back with everything kept ---------------------------------------------------


def assert_kept(html: str, posted: MultiDict) -> None:
    """The re-rendered page would post back exactly what was typed (radios still checked, text still there)."""
    state, _errors = page_state(html)
    typed = sorted(filled(MultiDict(list(posted.items(multi=True)))).items(multi=True))
    assert sorted(filled(state).items(multi=True)) == typed


def test_invalid_patrol_shows_chinese_errors_beside_fields_and_keeps_typing(app, staff):
    values = patrol_values(app, inspector="", cctv="fault", date="2026-13-45", findings="B1 出口\n堆放纸箱")
    response, uid = submit(staff, "patrol", values)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    _state, errors = page_state(html)
    assert errors == {"inspector": [REQUIRED], "cctv_note": [FAULT_NOTE], "date": ["不是有效的日期值。"]}
    assert "有未填写或填写有误的项目" in html
    # each invalid input points screen readers at its message
    assert '<input aria-describedby="inspector-error" aria-invalid="true" id="inspector"' in html
    assert 'id="inspector-error">' in html and 'aria-describedby="cctv_note-error"' in html
    assert html.count('id="cctv_note-error"') == 1
    assert 'class="item field has-error" id="item-inspector"' in html
    posted = MultiDict(values)
    assert_kept(html, posted)
    assert f'value="{uid}"' in html  # the same submission id, so a retry cannot make two records
    assert count(app, Submission) == 0


@pytest.mark.parametrize(("score", "message"), [("25", "请填写 0 到 20 之间的数"), ("-1", "请填写 0 到 20 之间的数"),
                                                ("十", "不是有效的小数。")])
def test_number_out_of_range_or_not_a_number(app, staff, score, message):
    data = minimal_formdata(catalogue_form(app, "staff-review"))
    data.setlist("attitude_score", [score])
    response, _uid = submit(staff, "staff-review", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    _state, errors = page_state(html)
    assert errors == {"attitude_score": [message]}
    assert_kept(html, data)


def test_fault_with_note_is_accepted(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏,已报工程部"))
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "异常" in page and "B1 监控黑屏,已报工程部" in page
    assert count(app, Submission, Submission.faults == 1) == 1


def visit(n: int, **changes: str) -> dict[str, str]:
    row = {"visitor_identity": "顾客", "name": f"访客{n}", "phone": f"1380000000{n}", "purpose": "咨询",
           "visit_time": "10:0" + str(n), "receptionist": "张三"}
    row.update(changes)
    return {f"visits-{n}-{k}": v for k, v in row.items() if v}


def test_register_blank_rows_are_ignored(app, staff):
    data = MultiDict({"date": "2026-11-23", **visit(0), "visits-1-name": "", "visits-1-phone": "", **visit(2)})
    uid = submitted(staff, "visitor-register", data)
    with app.extensions["db_sessions"]() as session:
        rows = session.query(Revision.values).join(Submission).filter(Submission.uid == uid).scalar()["visits"]
    assert [r["name"] for r in rows] == ["访客0", "访客2"]
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert "访客0" in page and "访客2" in page and "13800000002" in page


def test_register_partly_filled_row_is_validated_and_rows_are_kept(app, staff):
    partial = {"visits-1-name": "李四", "visits-1-company": "某某公司"}
    data = MultiDict({"date": "2026-11-23", **visit(0), **partial, **visit(2, visit_time="25:99")})
    response, _uid = submit(staff, "visitor-register", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    _state, errors = page_state(html)
    required = ["visitor_identity", "phone", "purpose", "visit_time", "receptionist"]
    expected = {f"visits-1-{c}": [REQUIRED] for c in required}
    expected["visits-2-visit_time"] = ["不是有效的时间值。"]
    assert errors == expected
    assert_kept(html, data)
    assert count(app, Submission) == 0


def test_required_register_needs_a_row(app, staff):
    response, _uid = submit(staff, "visitor-register", {"date": "2026-11-23"})
    assert response.status_code == 400
    _state, errors = page_state(response.get_data(as_text=True))
    assert errors == {"visits": [REQUIRED]}


# -- an expired page ------------------------------------------------------------------------------


def expired_token(app, client) -> str:
    """A CSRF token exactly like the page's, but signed 17 hours ago (past WTF_CSRF_TIME_LIMIT)."""

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - app.config["WTF_CSRF_TIME_LIMIT"] - 3600

    with client.session_transaction() as session:
        raw = session["csrf_token"]
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token", signer=Yesterday).dumps(raw)


@pytest.mark.parametrize("token", ["expired", "tampered", "missing"])
def test_expired_page_keeps_everything_and_says_so(app, staff, token):
    _html, csrf, uid = new_form(staff, "patrol")
    values = MultiDict(patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏", findings="门口积水"))
    bad = {"expired": expired_token(app, staff), "tampered": csrf[:-4] + "AAAA", "missing": ""}[token]
    data = MultiDict(form_post({}, bad, uid))
    data.update(values)
    response = post(staff, "patrol", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert EXPIRED in page
    assert_kept(page, values)
    assert f'value="{uid}"' in page
    assert count(app, Submission) == 0
    # The re-rendered page carries a fresh token: clicking submit again works.
    again = MultiDict(form_post({}, csrf_of(page), uid))
    again.update(values)
    assert post(staff, "patrol", again).status_code == 303
    assert count(app, Submission) == 1


def test_unknown_form_is_a_chinese_404(staff):
    response = staff.get("/forms/no-such-form")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "没有编号为 “no-such-form” 的表单" in html and "页面不存在" in html
    assert staff.post("/forms/no-such-form", data={}).status_code == 404


# -- the same submission twice ----------------------------------------------------------------------


def test_same_submission_twice_is_one_record(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    data = form_post(patrol_values(app), csrf, uid)
    first = post(staff, "patrol", MultiDict(data))
    second = post(staff, "patrol", MultiDict(data))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app, Submission) == 1 and count(app, Revision) == 1
    assert "这份表已经提交过" in staff.get(second.headers["Location"]).get_data(as_text=True)


def test_same_submission_id_with_other_content_is_a_conflict(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    assert post(staff, "patrol", MultiDict(form_post(patrol_values(app), csrf, uid))).status_code == 303
    changed = MultiDict(patrol_values(app, windows="fault", windows_note="二楼东侧窗户玻璃破裂"))
    response = post(staff, "patrol", MultiDict(form_post(changed, csrf, uid)))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "这个提交编号已用于另一份内容不同的记录" in page
    assert f'href="/records/{uid}"' in page
    assert_kept(page, changed)
    assert count(app, Submission) == 1 and count(app, Revision) == 1


# -- drafts ---------------------------------------------------------------------------------------


def put_draft(client, uid: str, fields, form: str = "patrol", token: str | None = None):
    if token is None:
        token = csrf_of(client.get("/").get_data(as_text=True))
    return client.put(f"/drafts/{uid}", json={"form": form, "fields": fields}, headers={"X-CSRFToken": token})


DRAFT_FIELDS = [["date", "2026-99-99"], ["shift", "早班"], ["inspector", "王 五 "], ["cctv", "fault"],
                ["cctv_note", "监控 <黑屏> & 闪烁"], ["findings", "第一行\n第二行"], ["patrol_time", "9点半"]]


def test_draft_saves_lists_and_restores_exactly_what_was_typed(app, staff):
    _html, _csrf, uid = new_form(staff, "patrol")
    response = put_draft(staff, uid, DRAFT_FIELDS)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "saved" in response.json
    home = staff.get("/").get_data(as_text=True)
    assert "未提交的草稿" in home and f'href="/forms/patrol?draft={uid}"' in home

    page = staff.get(f"/forms/patrol?draft={uid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    state, errors = page_state(html)
    assert errors == {}  # a draft is shown as typed, not judged
    assert sorted(filled(state).items(multi=True)) == sorted(map(tuple, DRAFT_FIELDS))
    assert f'value="{uid}"' in html and "草稿已保存于服务器" in html

    # Saving again replaces the fields.
    assert put_draft(staff, uid, [["inspector", "赵六"]]).status_code == 200
    state, _ = page_state(staff.get(f"/forms/patrol?draft={uid}").get_data(as_text=True))
    assert filled(state) == MultiDict([("inspector", "赵六")])
    assert count(app, Draft) == 1


def test_draft_needs_the_csrf_header_and_a_sane_body(app, staff):
    _html, _csrf, uid = new_form(staff, "patrol")
    assert put_draft(staff, uid, DRAFT_FIELDS, token="").status_code == 400
    assert put_draft(staff, uid, [["a", 1]]).status_code == 400
    assert put_draft(staff, "not-a-uuid", DRAFT_FIELDS).status_code == 400
    assert put_draft(staff, uid, DRAFT_FIELDS, form="no-such-form").status_code == 404
    assert count(app, Draft) == 0


def test_other_users_cannot_read_or_overwrite_a_draft(app, staff):
    _html, _csrf, uid = new_form(staff, "patrol")
    assert put_draft(staff, uid, DRAFT_FIELDS).status_code == 200
    create_user(app, "li", display_name="李四")
    other = app.test_client()
    login(other, "li")
    response = other.get(f"/forms/patrol?draft={uid}")
    assert response.status_code == 404 and "草稿不存在" in response.get_data(as_text=True)
    assert "未提交的草稿" not in other.get("/").get_data(as_text=True)
    assert put_draft(other, uid, [["inspector", "李四"]]).status_code == 404
    other.post(f"/drafts/{uid}/discard", data={"csrf_token": csrf_of(other.get("/").get_data(as_text=True))})
    with app.extensions["db_sessions"]() as session:
        assert session.query(Draft.fields).filter(Draft.uid == uid).scalar() == DRAFT_FIELDS


def test_submitting_removes_the_draft_and_later_saves_are_refused(app, staff):
    _html, csrf, uid = new_form(staff, "patrol")
    assert put_draft(staff, uid, DRAFT_FIELDS).status_code == 200
    assert post(staff, "patrol", MultiDict(form_post(patrol_values(app), csrf, uid))).status_code == 303
    assert count(app, Draft) == 0
    late = put_draft(staff, uid, DRAFT_FIELDS)
    assert late.status_code == 409 and late.json["submitted"] is True
    assert count(app, Draft) == 0
    assert staff.get(f"/forms/patrol?draft={uid}").status_code == 404


def test_discarding_a_draft(app, staff):
    _html, _csrf, uid = new_form(staff, "patrol")
    assert put_draft(staff, uid, DRAFT_FIELDS).status_code == 200
    token = csrf_of(staff.get("/").get_data(as_text=True))
    response = staff.post(f"/drafts/{uid}/discard", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert count(app, Draft) == 0
    assert "草稿已删除" in staff.get("/").get_data(as_text=True)
