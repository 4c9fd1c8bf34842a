"""Handovers like the two shifts live them: the incoming shift's form lists what it inherits (unresolved events,
instructions, shared items, open corrective actions) with each item's history; a no-handover condition blocks
the incoming person's confirmation until the record is corrected or, as KF-11.16 allows, a supervisor takes
over the duty and signs as the outgoing party (never for an unfit taker, never as a bare release); both times
come from the server clock; a carried item stays open, shift after shift, until closed with a note."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from formserver.db.models import AuditEvent, Case, CaseStep, Handover, Revision, utcnow
from tests.server_support import create_user, csrf_of, login, patrol_values
from tests.server_values import page_state, submitted

AREA = "一层大堂及总服务台"


pytestmark = pytest.mark.usefixtures("cheap_passwords")


def person(app, username: str, name: str, role: str = "staff", team: str = "desk"):
    """A logged-in client for a new user."""
    create_user(app, username, role=role, team=team, display_name=name)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def zhang(app):
    return person(app, "zhang", "张三")


@pytest.fixture
def li(app):
    return person(app, "li", "李四")


@pytest.fixture
def boss(app):
    return person(app, "wang", "王主管", role="supervisor")


def handover_values(handing: str = "张三", taking: str = "李四", issues=(), shared=(), **changes) -> MultiDict:
    """What the handover form posts: the header, the four no-handover conditions (all 否 unless changed), the
    major issues and shared items as (text, status) / (name, condition) rows, both signatures."""
    data = MultiDict({"date": "2026-11-23", "shift": "早班", "handover_time": "16:00", "area": AREA,
                      "handing_over": handing, "taking_over": taking, "event_unresolved": "no",
                      "equipment_switching": "no", "preparation_incomplete": "no", "taker_unfit": "no",
                      "handing_over_sign": handing, "taking_over_sign": taking})
    for n, (issue, status) in enumerate(issues):
        data.update({f"major_issues-{n}-issue": issue, f"major_issues-{n}-status": status})
    for n, (name, condition) in enumerate(shared):
        data.update({f"shared_items-{n}-item_name": name, f"shared_items-{n}-quantity": "2",
                     f"shared_items-{n}-condition": condition})
    for key, value in changes.items():
        data.setlist(key, [value])
    return data


def hand_over(app, client, **values) -> Handover:
    """Submit a handover form; the Handover row it opened."""
    uid = submitted(client, "handover", handover_values(**values))
    return one(app, select(Handover).join(Handover.submission).where(Handover.submission.has(uid=uid)))


def one(app, query):
    with app.extensions["db_sessions"]() as session:
        return session.scalars(query).unique().one()


def handover_row(app, handover_id: int) -> Handover:
    return one(app, select(Handover).where(Handover.id == handover_id))


def case_titled(app, text: str) -> Case:
    with app.extensions["db_sessions"]() as session:
        case = session.scalars(select(Case).where(Case.title.contains(text))).one()
        case.steps  # noqa: B018 - loaded before the session closes
        return case


def post(client, url: str, page: str, **fields):
    """POST from `page` (the token read from it, as the browser would)."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **fields})


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


# -- what the next shift inherits ----------------------------------------------------------------


def test_next_shift_sees_what_it_inherits(app, zhang, li):
    submitted(zhang, "patrol", patrol_values(app, cctv="fault", cctv_note="三号摄像头黑屏"))
    hand_over(app, zhang, issues=[("电梯困人待维保到场", "未处理"), ("大堂灯坏", "已处理")],
              shared=[("对讲机", "完好")], instructions="经理要求今晚加强东门巡查")
    page = li.get("/forms/handover")
    assert page.status_code == 200
    html = text_of(page)
    inherited = html.split('id="inherited-title"')[1].split('<form method="post" action="/forms/handover"')[0]
    for text in ("未处理完的事件:电梯困人待维保到场", "上级指示、命令:经理要求今晚加强东门巡查",
                 "公用物品(当面验清):对讲机", "监控无被撬毁、工作正常:三号摄像头黑屏"):
        assert text in inherited, text
    assert "大堂灯坏" not in inherited  # handled: not carried over
    assert "交班时列入" in inherited and "张三" in inherited  # each item's history: who listed it, when
    assert "整改事项按整改流程跟进" in inherited  # corrective actions are shown, not closed from here
    assert 'href="/handbook/regulations/KF-11/#KF-11.4"' in inherited


def test_other_teams_items_are_not_inherited(app, zhang):
    hand_over(app, zhang, instructions="只给总服务台的指示")
    guard = person(app, "zhao", "赵六", team="security")
    assert "只给总服务台的指示" not in guard.get("/forms/handover").get_data(as_text=True)
    handover_id = one(app, select(Handover.id))
    assert guard.get(f"/handover/{handover_id}").status_code == 404


# -- blocking, a supervisor taking over, confirmation -------------------------------------------


def revisions(app, submission_id: int) -> list[Revision]:
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(Revision).where(Revision.submission_id == submission_id)
                                    .order_by(Revision.number)))


def handover_actions(app) -> list[str]:
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("handover%"))
                                    .order_by(AuditEvent.id)))


def test_a_supervisor_takes_over_a_blocked_handover_and_signs_as_the_outgoing_party(app, zhang, li, boss):
    handover = hand_over(app, zhang, event_unresolved="yes", issues=[("顾客纠纷仍在协调", "未处理")])
    assert (handover.state, handover.blockers) == ("blocked", ["event_unresolved"])
    detail = f"/handover/{handover.id}"
    page = text_of(li.get(detail))
    assert "未完成交接" in page and "重大或紧急事件未处理完" in page
    assert 'href="/handbook/regulations/KF-11/#KF-11.11"' in page
    assert "由我接替交班" not in page and "放行" not in page  # staff see no takeover, and nothing is "released"

    refused = post(li, f"{detail}/confirm", detail)
    assert refused.status_code == 409
    assert "存在不得交接班的情形:重大或紧急事件未处理完" in text_of(refused)
    assert post(li, f"{detail}/takeover", detail, note="我来接替一下").status_code == 403  # staff may not
    assert post(boss, f"{detail}/override", detail, reason="纠纷已移交保安部").status_code in (404, 405)  # gone

    page = text_of(boss.get(detail))
    assert "客服主管接替交班" in page and "以交班人身份在交接班记录上签字" in page
    assert 'href="/handbook/regulations/KF-11/#KF-11.16"' in page
    empty = post(boss, f"{detail}/takeover", detail, note="")
    assert empty.status_code == 400 and "请写明接替的情形和经过" in text_of(empty)
    short = post(boss, f"{detail}/takeover", detail, note="可以")
    assert short.status_code == 400 and ">可以</textarea>" in short.get_data(as_text=True)  # what was typed is kept
    assert handover_row(app, handover.id).state == "blocked" and len(revisions(app, handover.submission_id)) == 1

    before = utcnow()
    done = post(boss, f"{detail}/takeover", detail, note="纠纷由我接手协调,保安部已到场")
    assert done.status_code == 303
    row = handover_row(app, handover.id)
    assert row.state == "awaiting" and row.override_reason == "纠纷由我接手协调,保安部已到场"
    assert row.override_by.display_name == "王主管" and before <= row.override_at <= utcnow()
    assert row.outgoing.display_name == "张三"  # who handed the condition to the supervisor stays on record

    # the record: a new revision in which the supervisor is the outgoing party and signs as such
    first, second = revisions(app, handover.submission_id)
    assert (first.values["handing_over"], first.values["handing_over_sign"]) == ("张三", "张三")
    assert (second.values["handing_over"], second.values["handing_over_sign"]) == ("王主管", "王主管")
    assert second.values["taking_over"] == "李四" and second.values["event_unresolved"] == "yes"
    assert second.reason == "客服主管接替交班(KF-11.16):原交班人 张三;纠纷由我接手协调,保安部已到场"
    page = text_of(li.get(detail))
    assert "王主管" in page and "接替 张三" in page and "纠纷由我接手协调,保安部已到场" in page
    record = text_of(boss.get(f"/records/{handover.submission.uid}"))
    assert "主管接替交班:纠纷由我接手协调,保安部已到场" in record

    outsider = person(app, "zhao", "赵六")
    assert post(outsider, f"{detail}/confirm", detail).status_code == 403  # only the incoming person
    assert post(zhang, f"{detail}/confirm", detail).status_code == 403
    assert post(boss, f"{detail}/confirm", detail).status_code == 403  # not the one who took over either
    assert post(boss, f"{detail}/takeover", detail, note="再接替一次").status_code == 409

    before = utcnow()
    confirmed = post(li, f"{detail}/confirm", detail)
    assert confirmed.status_code == 303
    row = handover_row(app, handover.id)
    assert row.state == "completed" and row.incoming.username == "li"
    assert before <= row.taken_at <= utcnow()  # the server's clock, not a typed time
    assert post(li, f"{detail}/confirm", detail).status_code == 409
    assert handover_actions(app) == ["handover_takeover", "handover_confirm"]
    with app.extensions["db_sessions"]() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "handover_takeover")).one()
    assert event.detail["outgoing"] == "张三" and event.detail["blockers"] == ["event_unresolved"]
    assert event.detail["ref"] == ["KF-11.16"] and event.detail["note"] == "纠纷由我接手协调,保安部已到场"
    assert "已完成" in text_of(li.get("/handover/"))


def test_an_unfit_taker_is_never_taken_over_only_replaced(app, zhang, li, boss):
    """KF-11.16 does not cover KF-11.14: a supervisor cannot sign a handover over to someone unfit."""
    handover = hand_over(app, zhang, event_unresolved="yes", taker_unfit="yes")
    detail = f"/handover/{handover.id}"
    page = text_of(boss.get(detail))
    assert "须安排顶班人接班" in page and "由我接替交班" not in page
    refused = post(boss, f"{detail}/takeover", detail, note="我来接替值守")
    assert refused.status_code == 409 and "接班人有饮酒迹象或神志不清且无顶班人" in text_of(refused)
    assert handover_row(app, handover.id).state == "blocked" and len(revisions(app, handover.submission_id)) == 1
    assert handover_actions(app) == []


def test_the_outgoing_supervisor_needs_another_to_take_over(app, li, boss):
    handover = hand_over(app, boss, handing="王主管", equipment_switching="yes")
    detail = f"/handover/{handover.id}"
    refused = post(boss, f"{detail}/takeover", detail, note="冷机仍在启动")
    assert refused.status_code == 409 and "须由另一位客服主管接替" in text_of(refused)
    other = person(app, "sun", "孙主管", role="supervisor")
    assert post(other, f"{detail}/takeover", detail, note="冷机启动由我盯守").status_code == 303
    assert handover_row(app, handover.id).override_by.display_name == "孙主管"


def test_a_takeover_does_not_cover_a_condition_found_afterwards(app, zhang, li, boss):
    handover = hand_over(app, zhang, preparation_incomplete="yes")
    detail = f"/handover/{handover.id}"
    assert post(boss, f"{detail}/takeover", detail, note="交班准备由我完成").status_code == 303
    uid = handover.submission.uid
    page = boss.get(f"/records/{uid}/correct")
    state, _errors = page_state(page.get_data(as_text=True))
    data = MultiDict([(k, v) for k, v in state.items(multi=True) if k != "csrf_token" and v])
    data.update({"csrf_token": csrf_of(page.get_data(as_text=True)), "reason": "接班人到岗时有饮酒迹象"})
    data.setlist("taker_unfit", ["yes"])
    assert boss.post(f"/records/{uid}/correct", data=data).status_code == 303
    row = handover_row(app, handover.id)
    assert (row.state, row.blockers) == ("blocked", ["preparation_incomplete", "taker_unfit"])
    assert post(li, f"{detail}/confirm", detail).status_code == 409


def test_without_a_takeover_rule_only_removing_the_condition_lets_it_go_ahead(app, zhang, boss, monkeypatch):
    monkeypatch.setattr(app.extensions["catalogue"].handbook.rules.handover, "takeover", None)
    handover = hand_over(app, zhang, event_unresolved="yes")
    detail = f"/handover/{handover.id}"
    assert "由我接替交班" not in text_of(boss.get(detail))
    assert post(boss, f"{detail}/takeover", detail, note="我来接替值守").status_code == 403
    assert handover_row(app, handover.id).state == "blocked"


def test_unblocked_handover_awaits_the_incoming_person(app, zhang, li):
    handover = hand_over(app, zhang)
    assert handover.state == "awaiting"
    page = text_of(li.get(f"/handover/{handover.id}"))
    assert ">确认接班</button>" in page and "待接班确认" in page
    assert ">确认接班</button>" not in text_of(zhang.get(f"/handover/{handover.id}"))
    assert "等待接班人“李四”登录后确认接班" in text_of(zhang.get(f"/handover/{handover.id}"))


def test_correcting_the_record_clears_a_condition(app, zhang, li):
    handover = hand_over(app, zhang, equipment_switching="yes", issues=[("冷机启动中", "未处理")])
    assert handover.state == "blocked"
    uid = handover.submission.uid
    assert f'href="/records/{uid}/correct"' in zhang.get(f"/handover/{handover.id}").get_data(as_text=True)
    page = zhang.get(f"/records/{uid}/correct")
    state, _errors = page_state(page.get_data(as_text=True))
    data = MultiDict([(k, v) for k, v in state.items(multi=True) if k != "csrf_token" and v])
    data.update({"csrf_token": csrf_of(page.get_data(as_text=True)), "reason": "冷机已启动完毕"})
    data.setlist("equipment_switching", ["no"])
    data.setlist("public_repairs", ["二层卫生间漏水待修"])  # forgotten at first: carried from the correction on
    assert zhang.post(f"/records/{uid}/correct", data=data).status_code == 303
    row = handover_row(app, handover.id)
    assert (row.state, row.blockers) == ("awaiting", [])
    with app.extensions["db_sessions"]() as session:
        titles = session.scalars(select(Case.title).where(Case.submission_id == handover.submission_id)
                                 .order_by(Case.id)).all()
    assert titles == ["未处理完的事件:冷机启动中(未处理)", "公共区域维修:二层卫生间漏水待修"]
    assert f"/handover/{handover.id}" in zhang.get(f"/records/{uid}").get_data(as_text=True)
    assert post(li, f"/handover/{handover.id}/confirm", f"/handover/{handover.id}").status_code == 303


# -- carried items stay open until closed --------------------------------------------------------


def test_carried_item_passes_each_shift_until_closed_with_a_note(app, zhang, li):
    first = hand_over(app, zhang, instructions="东门门禁待厂家维修")
    second = hand_over(app, li, handing="李四", taking="张三")
    third = hand_over(app, zhang)
    case = case_titled(app, "东门门禁待厂家维修")
    assert case.state == "open" and case.closed_at is None and case.submission_id == first.submission_id
    assert [(s.step, s.values.get("handover_id")) for s in case.steps] == [
        ("open", None), ("handed", second.id), ("handed", third.id)]
    passed = text_of(zhang.get(f"/handover/{second.id}")).split("随本次交接继续移交的事项")[1]
    assert "东门门禁待厂家维修" in passed

    form_page = "/forms/handover"
    nothing = post(li, f"/handover/items/{case.id}/close", form_page, note="  ", next=form_page)
    assert nothing.status_code == 400 and "请写明关闭说明" in text_of(nothing)
    closed = post(li, f"/handover/items/{case.id}/close", form_page, note="厂家已修好,试刷正常", next=form_page)
    assert closed.status_code == 303 and closed.headers["Location"] == form_page
    case = case_titled(app, "东门门禁待厂家维修")
    assert case.state == "closed" and case.closed_at is not None
    assert (case.steps[-1].step, case.steps[-1].note) == ("closed", "厂家已修好,试刷正常")

    hand_over(app, zhang)
    assert len(case_titled(app, "东门门禁待厂家维修").steps) == 4  # closed: handed on no more
    assert "东门门禁待厂家维修" not in li.get(form_page).get_data(as_text=True)
    history = text_of(zhang.get(f"/handover/{first.id}"))
    assert "已关闭" in history and "厂家已修好,试刷正常" in history


def test_corrective_actions_are_not_closed_from_the_handover(app, zhang):
    submitted(zhang, "patrol", patrol_values(app, windows="fault", windows_note="北侧窗户锁坏"))
    case = one(app, select(Case).where(Case.workflow_id == "corrective"))
    refused = post(zhang, f"/handover/items/{case.id}/close", "/forms/handover", note="已经修好了")
    assert refused.status_code == 400 and "整改流程" in text_of(refused)
    with app.extensions["db_sessions"]() as session:
        assert session.scalar(select(CaseStep.step).where(CaseStep.case_id == case.id)
                              .order_by(CaseStep.id.desc()).limit(1)) == "open"


def test_list_shows_the_teams_handovers_newest_first(app, zhang, li):
    hand_over(app, zhang, taker_unfit="yes", taking="李四")
    hand_over(app, li, handing="李四", taking="张三")
    page = text_of(zhang.get("/handover/"))
    assert page.index("待接班确认") < page.index("未完成交接")
    assert "接班人有饮酒迹象或神志不清且无顶班人" in page
