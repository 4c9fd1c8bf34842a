"""Cases like people work them: a failed check item becomes a corrective action that a supervisor assigns and
verifies; a complaint and a service ticket go through every step of workflows.yaml, each step written into
the record as a new revision; deadlines show as due and overdue. (The daily spot check: test_spot_check.)"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from formserver.db.models import AuditEvent, Case, CaseStep, Revision, Submission, utcnow
from tests.server_support import complaint_values, csrf_of, form_post, new_form, patrol_values, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")



def submit(app, client, form_id: str, values: dict) -> str:
    _, csrf, uid = new_form(client, form_id)
    response = client.post(f"/forms/{form_id}", data=form_post(values, csrf, uid))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return uid


def case_of(app, uid: str, workflow: str) -> Case:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(Case).join(Submission, Submission.id == Case.submission_id)
                              .where(Submission.uid == uid, Case.workflow_id == workflow))


def revisions(app, uid: str) -> list[Revision]:
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(Revision).join(Submission).where(Submission.uid == uid)
                                    .order_by(Revision.number)))


def set_due(app, case_id: int, due_at: dt.datetime) -> None:
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Case.__table__).where(Case.__table__.c.id == case_id).values(due_at=due_at))


def page(client, case_id: int) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def step(client, case_id: int, state: str, **values):
    """POST the next step of a case, as its page's form would."""
    html = page(client, case_id)
    return client.post(f"/cases/{case_id}", data={"csrf_token": csrf_of(html), "expected_state": state, **values})


def text(response) -> str:
    return response.get_data(as_text=True)


# -- corrective actions --------------------------------------------------------------------------------


def test_failed_check_item_is_a_corrective_action_assigned_done_and_verified(app):
    staff = person(app, "zhang", name="张三")
    lead = person(app, "li", role="supervisor", name="李主管")
    values = patrol_values(app, cctv="fault", cctv_note="二层东侧摄像头黑屏")
    uid = submit(app, staff, "patrol", values)
    case = case_of(app, uid, "corrective")
    assert case.title == "监控无被撬毁、工作正常:二层东侧摄像头黑屏"
    assert case.area == values["area"] and case.refs == ["KF-07.6"] and case.owner_id is None

    html = page(lead, case.id)
    assert "待指派" in html and f'href="/records/{uid}"' in html
    assert 'href="/handbook/regulations/KF-07/#KF-07.6"' in html
    listing = text(lead.get("/cases/"))
    assert "监控无被撬毁" in listing and "待指派" in listing and "整改事项" in listing

    # Before anyone is responsible, staff cannot start the work.
    refused = step(staff, case.id, "open", progress_note="已报修")
    assert refused.status_code == 403 and "尚未指派负责人" in text(refused)

    due = dt.datetime(2030, 1, 2, 17, 30)
    assigned = lead.post(f"/cases/{case.id}/assign", data={"csrf_token": csrf_of(html), "owner": "zhang",
                                                          "due_at": due.strftime("%Y-%m-%dT%H:%M")})
    assert assigned.status_code == 303
    case = case_of(app, uid, "corrective")
    assert case.owner_id is not None and case.due_at == dt.datetime(2030, 1, 2, 9, 30)  # Asia/Shanghai → UTC
    assert "2030-01-02 17:30" in page(staff, case.id)

    stranger = lead.post(f"/cases/{case.id}/assign", data={"csrf_token": csrf_of(html), "owner": "nobody"})
    assert stranger.status_code == 400 and "本组的在职员工" in text(stranger)

    assert step(staff, case.id, "open", progress_note="已联系工程部").status_code == 303
    assert case_of(app, uid, "corrective").due_at == dt.datetime(2030, 1, 2, 9, 30)  # still the deadline of 已完成
    missing = step(staff, case.id, "in_progress", result="")
    assert missing.status_code == 400 and "此项必填" in text(missing)
    kept = step(staff, case.id, "in_progress", result="", step_note="明天再看")
    assert "明天再看" in text(kept)
    assert step(staff, case.id, "in_progress", result="已更换摄像头").status_code == 303
    case = case_of(app, uid, "corrective")
    assert case.state == "done" and case.due_at is None and case.closed_at is None

    html = page(staff, case.id)
    assert "须由主管完成" in html  # the owner cannot verify their own work
    refused = staff.post(f"/cases/{case.id}", data={"csrf_token": csrf_of(html), "expected_state": "done"})
    assert refused.status_code == 403 and "主管" in text(refused)
    assert step(lead, case.id, "done", verify_note="复查正常").status_code == 303

    case = case_of(app, uid, "corrective")
    assert case.state == "verified" and case.closed_at is not None
    assert case.values == {"progress_note": "已联系工程部", "result": "已更换摄像头", "verify_note": "复查正常"}
    html = page(lead, case.id)
    assert "已办结" in html and "整改结果" in html and "已更换摄像头" in html and "李主管" in html
    assert "监控无被撬毁" not in text(lead.get("/cases/"))  # closed cases leave the open list
    assert "监控无被撬毁" in text(lead.get("/cases/?status=closed"))
    with app.extensions["db_sessions"]() as session:
        assert session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "case_step")
                              .order_by(AuditEvent.id.desc())) == {"workflow": "corrective", "step": "verified"}


def test_cases_are_seen_by_their_team_and_managers_only(app):
    staff = person(app, "zhang")
    colleague = person(app, "sun")
    other = person(app, "wang", team="hotline")
    outsider = person(app, "zhao", role="supervisor", team="security")
    manager = person(app, "boss", role="manager", team="office")
    uid = submit(app, staff, "patrol", patrol_values(app, cctv="fault", cctv_note="黑屏"))
    case = case_of(app, uid, "corrective")
    assert other.get(f"/cases/{case.id}").status_code == 404
    assert outsider.get(f"/cases/{case.id}").status_code == 404
    assert "黑屏" not in text(other.get("/cases/"))
    assert "黑屏" in text(staff.get("/cases/")) and "黑屏" in text(manager.get("/cases/"))
    assert colleague.get(f"/cases/{case.id}").status_code == 200 and "黑屏" in text(colleague.get("/cases/"))
    assert outsider.post(f"/cases/{case.id}/assign", data={}).status_code in (400, 404)
    assert staff.get("/cases/spot-check").status_code == 403


# -- complaints ------------------------------------------------------------------------------------------


def test_complaint_goes_through_every_step_owned_by_who_took_it(app):
    staff = person(app, "zhang", name="张三")
    colleague = person(app, "wang", name="王五")
    lead = person(app, "li", role="supervisor", name="李主管")
    uid = submit(app, staff, "complaint", complaint_values())
    case = case_of(app, uid, "complaint")
    assert case.state == "accepted" and case.owner_id is not None
    assert dt.timedelta(hours=23) < case.due_at - utcnow() <= dt.timedelta(hours=24)
    assert "即将到期" not in page(staff, case.id)

    assert step(staff, case.id, "accepted", handling_opinion="").status_code == 400
    assert step(staff, case.id, "accepted", investigator="赵工", cause_analysis="计费规则配置错误",
                handling_opinion="退还多收费用").status_code == 303
    case = case_of(app, uid, "complaint")
    assert case.state == "handling" and case.due_at is not None  # the reply deadline keeps running

    set_due(app, case.id, utcnow() - dt.timedelta(hours=1))
    assert "已逾期" in page(lead, case.id)
    assert "已逾期" in text(lead.get("/cases/?overdue=1")) and "TS-001" in text(lead.get("/cases/?overdue=1"))
    set_due(app, case.id, utcnow() + dt.timedelta(hours=2))
    assert "即将到期" in page(lead, case.id)
    set_due(app, case.id, utcnow() - dt.timedelta(hours=1))

    assert colleague.get(f"/cases/{case.id}").status_code == 200  # the team's queue: seen
    assert step(colleague, case.id, case_of(app, uid, "complaint").state, reply_content="我来回复").status_code == 403

    before = utcnow()
    assert step(staff, case.id, "handling", reply_content="已退款并致歉").status_code == 303
    case = case_of(app, uid, "complaint")
    assert case.state == "replied" and case.due_at is None
    assert "已逾期" not in page(staff, case.id)
    assert page(staff, case.id).count("逾期完成") == 1  # the history keeps that the reply came late

    assert step(staff, case.id, "replied", callback_result="客户表示满意", satisfaction="满意").status_code == 303
    assert step(staff, case.id, "callback", leader_instruction="同意归档").status_code == 403
    assert step(lead, case.id, "callback", leader_instruction="同意归档").status_code == 303
    case = case_of(app, uid, "complaint")
    assert case.state == "archived" and case.closed_at is not None

    revs = revisions(app, uid)
    assert [r.reason for r in revs] == ["", "流程:处理", "流程:回复", "流程:回访", "流程:归档"]
    last = revs[-1].values
    assert last["handling_opinion"] == "退还多收费用" and last["reply_content"] == "已退款并致歉"
    assert last["callback_by"] == "张三" and last["satisfaction"] == "满意" and last["leader_instruction"] == "同意归档"
    stamped = dt.datetime.strptime(last["reply_time"], "%Y-%m-%dT%H:%M")
    local_before = before.replace(tzinfo=dt.UTC).astimezone(app.extensions["catalogue"].timezone)
    assert abs(stamped - local_before.replace(tzinfo=None, second=0, microsecond=0)) <= dt.timedelta(minutes=2)
    record = text(staff.get(f"/records/{uid}"))
    assert "已退款并致歉" in record and "流程:回复" in record


def test_reply_step_is_the_owners_and_a_stale_post_is_a_conflict(app):
    staff = person(app, "zhang", name="张三")
    colleague = person(app, "wang", role="supervisor", team="other", name="王五")
    uid = submit(app, staff, "complaint", complaint_values())
    case = case_of(app, uid, "complaint")
    html = page(staff, case.id)
    token = csrf_of(html)
    data = {"csrf_token": token, "expected_state": "accepted", "handling_opinion": "退款"}
    assert staff.post(f"/cases/{case.id}", data=data).status_code == 303
    again = staff.post(f"/cases/{case.id}", data=data)  # a double click, or the page of before
    assert again.status_code == 409 and "已经是“处理”状态" in text(again)
    assert len(revisions(app, uid)) == 2
    with app.extensions["db_sessions"]() as session:
        assert session.scalars(select(CaseStep.step).where(CaseStep.case_id == case.id)).all() == \
            ["accepted", "handling"]

    # someone who is not the owner: a supervisor of another team does not even see it
    assert colleague.get(f"/cases/{case.id}").status_code == 404
    # a colleague who took part in the case (so sees it) is still refused 回复
    helper = person(app, "zhou", name="周六")
    with app.extensions["db_engine"].begin() as connection:
        helper_id = connection.exec_driver_sql("SELECT id FROM users WHERE username = 'zhou'").scalar_one()
        connection.execute(CaseStep.__table__.insert().values(case_id=case.id, step="accepted", user_id=helper_id,
                                                              at=utcnow(), note="", values={}))
    html = page(helper, case.id)
    assert "须由负责人 张三 办理" in html and "完成“回复”" not in html
    refused = helper.post(f"/cases/{case.id}", data={"csrf_token": csrf_of(html), "expected_state": "handling",
                                                     "reply_content": "我来回复"})
    assert refused.status_code == 403 and "谁受理、谁跟进、谁回复" in text(refused)
    assert case_of(app, uid, "complaint").state == "handling"


# -- service tickets ------------------------------------------------------------------------------------


def ticket_values(number: str = "GD-001", **changes) -> dict:
    values = {"ticket_no": number, "received_at": "2026-11-23T08:05", "agent": "张三", "reporter": "刘先生",
              "contact": "13900000000", "description": "三楼打印机无法连接", "occurred_at": "2026-11-23T08:00",
              "category": "硬件故障", "priority": "高"}
    values.update(changes)
    return values


def test_service_ticket_through_all_steps(app):
    staff = person(app, "zhang", name="张三")
    lead = person(app, "li", role="supervisor", name="李主管")
    uid = submit(app, staff, "service-ticket", ticket_values())
    case = case_of(app, uid, "service-ticket")
    assert case.state == "reported" and case.due_at is None
    assert step(staff, case.id, "reported", assignee="").status_code == 400
    dispatched = step(staff, case.id, "reported", dispatched_to="工程部", assignee="钱工", onsite_needed="yes")
    assert dispatched.status_code == 303
    missing = step(staff, case.id, "dispatched", departed_at="2026-11-23T08:20")
    assert missing.status_code == 400 and "此项必填" in text(missing) and "2026-11-23T08:20" in text(missing)
    assert step(staff, case.id, "dispatched", departed_at="2026-11-23T08:20",
                arrived_at="2026-11-23T08:35").status_code == 303
    assert step(staff, case.id, "on_site", fault_cause="网线松动", restored_at="2026-11-23T09:00",
                repair_result="已修复").status_code == 303
    assert step(staff, case.id, "restored", work_quality="好", service_attitude="好", restore_timeliness="及时",
                satisfaction="非常满意").status_code == 303
    assert step(staff, case.id, "callback", checked_archived="yes").status_code == 403
    assert step(lead, case.id, "callback", checked_archived="").status_code == 400
    assert step(lead, case.id, "callback", checked_archived="yes").status_code == 303
    case = case_of(app, uid, "service-ticket")
    assert case.state == "archived" and case.closed_at is not None
    last = revisions(app, uid)[-1].values
    assert last["departed_at"] == "2026-11-23T08:20" and last["arrived_at"] == "2026-11-23T08:35"
    assert last["restored_at"] == "2026-11-23T09:00" and last["satisfaction"] == "非常满意"
    assert last["handled_by"] == "张三" and last["callback_by"] == "张三" and "dispatched_at" in last
    assert last["checked_archived"] == "yes" and last["reporter"] == "刘先生"
    html = page(staff, case.id)
    for shown in ("出发时间", "2026-11-23 08:20", "到达现场时间", "恢复时间", "满意程度", "非常满意", "已归档"):
        assert shown in html, shown
    assert "维修维护工单" in text(staff.get("/cases/?status=all&workflow=service-ticket"))


# -- the daily spot check: test_spot_check.py (a fifth of the day's calls, KF-13.23) ----------------------------


def test_list_filters_and_what_cannot_be_worked(app):
    staff = person(app, "zhang", name="张三")
    lead = person(app, "li", role="supervisor", name="李主管")
    patrol = submit(app, staff, "patrol", patrol_values(app, cctv="fault", cctv_note="黑屏"))
    complaint = submit(app, staff, "complaint", complaint_values())
    corrective, flow = case_of(app, patrol, "corrective"), case_of(app, complaint, "complaint")
    mine = text(staff.get("/cases/?mine=1"))
    assert "TS-001" in mine and "黑屏" not in mine  # nobody owns the corrective action yet
    only = text(staff.get("/cases/?workflow=corrective"))
    assert "黑屏" in only and "TS-001" not in only
    assert "TS-001" not in text(staff.get("/cases/?overdue=1"))
    set_due(app, flow.id, utcnow() - dt.timedelta(minutes=5))
    overdue = text(staff.get("/cases/?overdue=1"))
    assert "TS-001" in overdue and "已逾期" in overdue and "黑屏" not in overdue
    assert "TS-001" in text(staff.get("/cases/?state=accepted"))
    assert "TS-001" not in text(staff.get("/cases/?state=handling"))

    # An item a handover carried over is shown, but closed on the handover pages, not here.
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(Case.__table__.insert().values(
            workflow_id="handover", submission_id=corrective.submission_id, item_id="pending", title="待办:归还钥匙",
            team="desk", state="open", refs=[], photos=[], values={}, opened_at=utcnow(), updated_at=utcnow()))
    listing = text(lead.get("/cases/?workflow=handover"))
    assert "交接遗留事项" in listing and "未了结" in listing
    carried = re.search(r'href="/cases/(\d+)">待办', listing).group(1)
    assert "在交接班页面跟进和关闭" in page(lead, int(carried))

    # A deleted record's flow waits until the record is restored.
    html = text(lead.get(f"/records/{complaint}"))
    assert lead.post(f"/records/{complaint}/delete", data={"csrf_token": csrf_of(html), "reason": "重复登记"}
                     ).status_code == 303
    assert "原记录已删除" in page(staff, flow.id)
    refused = step(staff, flow.id, "accepted", handling_opinion="退款")
    assert refused.status_code == 403 and "原记录已删除" in text(refused)
