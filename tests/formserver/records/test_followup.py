"""What a stored submission opens, in the same transaction, by checklists/rules/: a corrective action per
failed check item, a complaint's or service ticket's flow, a handover with what it carries over; whether it
came from the web form or the API, and never twice for a retried submission."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from formserver.db.models import Case, CaseStep, Handover, Submission
from tests.formserver.api.test_api import Api, make_token
from tests.server_support import complaint_values, create_user, form_post, login, new_form, patrol_values

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def rows(app, model, *where):
    with app.extensions["db_sessions"]() as db:
        return list(db.scalars(select(model).where(*where).order_by(model.id)))


def staff(app, username="zhang", name="张三", role="staff"):
    create_user(app, username, role=role, display_name=name)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_each_failed_check_item_opens_a_corrective_action(app):
    client = staff(app)
    _, csrf, uid = new_form(client, "patrol")
    values = patrol_values(app, cctv="fault", cctv_note="三号监控黑屏", fire_exit="fault",
                           fire_exit_note="消防通道堆放纸箱")
    assert client.post("/forms/patrol", data=form_post(values, csrf, uid)).status_code == 303
    submission = rows(app, Submission)[0]
    assert (submission.shift, submission.area) == ("早班", values["area"])
    cases = rows(app, Case)
    assert [(c.workflow_id, c.item_id, c.state, c.area) for c in cases] == [
        ("corrective", "fire_exit", "open", values["area"]), ("corrective", "cctv", "open", values["area"])]
    cctv = cases[1]
    assert cctv.title == "监控无被撬毁、工作正常:三号监控黑屏"
    assert cctv.refs == ["KF-07.6"] and cctv.submission_id == submission.id and cctv.owner_id is None
    assert cctv.due_at - cctv.opened_at == dt.timedelta(days=3)  # workflows.yaml: done within 3 days
    assert [s.step for s in rows(app, CaseStep, CaseStep.case_id == cctv.id)] == ["open"]
    # The same submission posted again (a double tap) opens nothing more.
    client.post("/forms/patrol", data=form_post(values, csrf, uid))
    assert len(rows(app, Case)) == 2


def test_the_api_opens_the_same_follow_up(app):
    api = Api(app, make_token(app))
    uid = str(uuid.uuid4())
    values = patrol_values(app, stairs="fault", stairs_note="楼梯扶手松动")
    assert api.submit("patrol", values, uid).status_code == 201
    assert api.submit("patrol", values, uid).status_code in (200, 201)  # a replay (answers as stored)
    assert [(c.workflow_id, c.item_id) for c in rows(app, Case)] == [("corrective", "stairs")]


def test_a_complaint_opens_its_flow_owned_by_whoever_took_it(app):
    client = staff(app)
    _, csrf, uid = new_form(client, "complaint")
    assert client.post("/forms/complaint", data=form_post(complaint_values(), csrf, uid)).status_code == 303
    (case,) = rows(app, Case)
    assert (case.workflow_id, case.state, case.owner.display_name) == ("complaint", "accepted", "张三")
    assert case.due_at - case.opened_at == dt.timedelta(hours=24)  # reply within 24 hours (KF-14.30)
    assert "TS-001" in case.title


def handover_values(**changes):
    values = {"date": "2026-11-23", "shift": "早班", "handover_time": "16:00", "area": "一层大堂及总服务台",
              "handing_over": "张三", "taking_over": "李四", "event_unresolved": "no", "equipment_switching": "no",
              "preparation_incomplete": "no", "taker_unfit": "no", "handing_over_sign": "张三",
              "taking_over_sign": "李四"}
    values.update(changes)
    return values


def test_a_handover_records_its_blockers_and_carries_open_items(app):
    client = staff(app)
    _, csrf, uid = new_form(client, "handover")
    data = form_post(handover_values(event_unresolved="yes", instructions="晚上九点前通知商户撤展"), csrf, uid)
    data.update({"major_issues-0-issue": "二层漏水", "major_issues-0-status": "未处理",
                 "major_issues-1-issue": "电梯困人", "major_issues-1-status": "已处理"})
    response = client.post("/forms/handover", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    (handover,) = rows(app, Handover)
    assert (handover.state, handover.blockers, handover.incoming_name) == ("blocked", ["event_unresolved"], "李四")
    carried = rows(app, Case, Case.workflow_id == "handover")
    assert [(c.item_id, c.state) for c in carried] == [("major_issues.1", "open"), ("instructions", "open")]
    assert carried[0].title.startswith("未处理完的事件:二层漏水")
    assert carried[1].title == "上级指示、命令:晚上九点前通知商户撤展"


def test_a_handover_without_blockers_awaits_the_incoming_person(app):
    client = staff(app)
    _, csrf, uid = new_form(client, "handover")
    assert client.post("/forms/handover", data=form_post(handover_values(), csrf, uid)).status_code == 303
    (handover,) = rows(app, Handover)
    assert (handover.state, handover.blockers) == ("awaiting", [])
    assert rows(app, Case) == []  # nothing to carry over


def test_a_correction_moves_the_record_on_the_board(app):
    """The shift and area the board counts a record under follow its corrections."""
    from tests.formserver.records.test_records import correction

    client = staff(app)
    _, csrf, uid = new_form(client, "patrol")
    assert client.post("/forms/patrol", data=form_post(patrol_values(app), csrf, uid)).status_code == 303
    areas = next(i for i in app.extensions["catalogue"].forms["patrol"].header if i.id == "area").options
    assert correction(client, uid, {"area": areas[1], "shift": "中班"}, reason="选错了区域").status_code == 303
    (submission,) = rows(app, Submission)
    assert (submission.shift, submission.area) == ("中班", areas[1])
