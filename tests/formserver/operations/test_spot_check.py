"""The daily quality spot check as KF-13.23 and KF-13.34 have it: at least 20 % of the day's calls, drawn from
the call log (来电登记, one record per call), whether a call became a ticket or not; the desk fills the call
log on the web and the phone system posts calls through the JSON API; the sample is drawn once, topped up by
later calls, and each verdict is recorded. Which form is sampled is rule data (workflows.yaml)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select

from formserver.db.models import AuditEvent, SpotCheck, Submission
from tests.formserver.api.test_api import Api, make_token
from tests.formserver.operations.test_cases import ticket_values
from tests.server_support import csrf_of, form_post, new_form, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def today(app) -> str:
    return app.extensions["catalogue"].now().date().isoformat()


def call_values(day: str, n: int = 0, **changes) -> dict:
    """One call as the call log records it (all required items, optional ones as given)."""
    values = {"date": day, "call_time": f"{8 + n % 12:02d}:{n % 60:02d}", "caller_number": f"1390000{n:04d}",
              "category": "咨询", "handled_by": "张三", "result": "当场解答", "ticket_created": "no"}
    values.update(changes)
    return values


def submit(client, form_id: str, values: dict) -> str:
    _, csrf, uid = new_form(client, form_id)
    response = client.post(f"/forms/{form_id}", data=form_post(values, csrf, uid))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return uid


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def drawn(app, day: str) -> list[tuple[str, str]]:
    """The sample of `day`: (form, submission uid) of each drawn record, in drawing order."""
    with app.extensions["db_sessions"]() as session:
        return [(form, uid) for form, uid in session.execute(
            select(SpotCheck.form_id, Submission.uid).join(Submission, Submission.id == SpotCheck.submission_id)
            .where(SpotCheck.day == dt.date.fromisoformat(day)).order_by(SpotCheck.id))]


@pytest.fixture
def desk(app):
    return person(app, "zhang", name="张三")


@pytest.fixture
def lead(app):
    return person(app, "li", role="supervisor", name="李主管")


def test_a_fifth_of_the_days_calls_is_drawn_once_and_each_verdict_recorded(app, desk, lead):
    day = today(app)
    calls = [submit(desk, "call-log", call_values(day, n, caller_number=f"0371-6000-{n:04d}")) for n in range(6)]
    for n in range(3):  # the day's tickets are not what KF-13.23 samples
        submit(desk, "service-ticket", ticket_values(f"GD-{n:03d}"))
    html = text(lead.get(f"/cases/spot-check?date={day}"))
    assert "已抽查 0/2" in html and "当日来电登记共 6 份" in html  # ceil(6 × 20 %) = 2
    assert 'href="/handbook/regulations/KF-13/#KF-13.23"' in html and "不少于 20%" in html
    sample = drawn(app, day)
    assert len(sample) == 2 and {form for form, _ in sample} == {"call-log"}
    assert {uid for _, uid in sample} <= set(calls)
    for shown in ("<dt>来电号码</dt><dd>0371-6000-", "<dt>已生成工单</dt><dd>否</dd>", "<dt>受理人</dt><dd>张三</dd>",
                  "<dt>类别</dt><dd>咨询</dd>"):
        assert html.count(shown) == 2, shown  # with each drawn call
    ids = re.findall(r'id="spot-(\d+)"', html)
    assert re.findall(r'id="spot-(\d+)"', text(lead.get(f"/cases/spot-check?date={day}"))) == ids  # stable

    token = csrf_of(html)
    refused = lead.post("/cases/spot-check", data={"csrf_token": token, "spot": ids[0], "date": day,
                                                   "result": "fail", "note": ""})
    assert "判为“不合格”时请写明问题" in text(lead.get(refused.headers["Location"]))
    lead.post("/cases/spot-check", data={"csrf_token": token, "spot": ids[0], "date": day, "result": "pass"})
    lead.post("/cases/spot-check", data={"csrf_token": token, "spot": ids[1], "date": day, "result": "fail",
                                         "note": "未询问来电人姓名"})
    html = text(lead.get(f"/cases/spot-check?date={day}"))
    assert "已抽查 2/2" in html and "未询问来电人姓名" in html and "不合格" in html
    with app.extensions["db_sessions"]() as session:
        assert sorted(session.scalars(select(SpotCheck.result))) == ["fail", "pass"]
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "spot_check")).all()) == 2

    empty = text(lead.get("/cases/spot-check?date=2020-01-01"))
    assert "已抽查 0/0" in empty and "当日没有可抽查的记录" in empty
    bad = lead.get("/cases/spot-check?date=明天")
    assert bad.status_code == 400 and "日期格式不对" in text(bad)


def test_calls_that_never_became_tickets_are_drawn(app, desk, lead):
    day = today(app)
    calls = [submit(desk, "call-log", call_values(day, n)) for n in range(5)]  # none became a ticket
    submit(desk, "service-ticket", ticket_values("GD-100"))
    lead.get(f"/cases/spot-check?date={day}")
    assert [uid for _, uid in drawn(app, day)] in [[uid] for uid in calls]  # ceil(5 × 20 %) = 1, a call

    # a later call tops the sample up (11 calls: 3); what was drawn stays drawn
    first = drawn(app, day)
    later = [submit(desk, "call-log", call_values(day, n, ticket_created="yes", result="已派发工单",
                                                  ticket_no=f"GD-{n}")) for n in range(5, 11)]
    html = text(lead.get(f"/cases/spot-check?date={day}"))
    assert "已抽查 0/3" in html and "当日来电登记共 11 份" in html
    assert drawn(app, day)[:1] == first and {uid for _, uid in drawn(app, day)} <= set(calls + later)


def test_a_phone_system_posts_calls_through_the_api_and_they_are_sampled(app, lead):
    api = Api(app, make_token(app, "phone", role="staff", team="desk"))
    definition = api.get("/forms/call-log")
    assert definition.status_code == 200
    for item in ("date", "call_time", "caller", "caller_number", "category", "handled_by", "result", "ticket_created",
                 "ticket_no", "duration"):
        assert f'"{item}"' in definition.get_data(as_text=True), item
    day = today(app)
    uid = str(uuid.uuid4())
    values = call_values(day, 7, caller="王先生", handled_by="张三", category="报修", result="已派发工单",
                         ticket_created="yes", ticket_no="GD-2026-0007", duration=185)
    created = api.submit("call-log", values, uid)
    assert created.status_code == 201, created.json
    assert created.json["values"] == values and created.json["record_date"] == day
    assert api.submit("call-log", values, uid).headers["Idempotent-Replayed"] == "true"  # a retry is one call
    for n in range(4):
        assert api.submit("call-log", call_values(day, n)).status_code == 201

    bad = api.submit("call-log", {**call_values(day, 9), "caller_number": "", "category": "闲聊",
                                  "ticket_created": "maybe"})
    assert bad.status_code == 422  # refused by field, in Chinese
    fields = bad.json["error"]["fields"]
    assert {"caller_number", "category", "ticket_created"} <= set(fields)
    assert all(re.search(r"[\u4e00-\u9fff]", m) for messages in fields.values() for m in messages)

    html = text(lead.get(f"/cases/spot-check?date={day}"))
    assert "当日来电登记共 5 份" in html and "已抽查 0/1" in html  # the phone system's calls, the lead's team
    assert len(drawn(app, day)) == 1


def test_which_records_are_sampled_is_rule_data(app, desk, lead, monkeypatch):
    rules = app.extensions["catalogue"].handbook.rules
    monkeypatch.setattr(rules, "spot_checks", [dataclasses.replace(rules.spot_checks[0], form="service-ticket",
                                                                   percent=50, show=("ticket_no",))])
    day = today(app)
    submit(desk, "call-log", call_values(day))
    tickets = [submit(desk, "service-ticket", ticket_values(f"GD-{n:03d}")) for n in range(4)]
    html = text(lead.get(f"/cases/spot-check?date={day}"))
    assert "当日客户服务部维修维护单共 4 份" in html and "已抽查 0/2" in html and "<dt>编号</dt><dd>GD-" in html
    assert {uid for _, uid in drawn(app, day)} <= set(tickets)
