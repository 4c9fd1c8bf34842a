"""Schedules and the today board: which slots a day has (from schedules.yaml and the organisation's shifts and
areas), their status at a given time, and the board a supervisor opens, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from formserver.db.models import Case, Submission
from formserver.operations import schedule
from formserver.operations.schedule import Submitted
from handbook.model import Named, Shift
from handbook.rules import Rules, Schedule
from tests.formserver.operations.board_clock import DAY, at
from tests.server_support import patrol_values, person
from tests.server_values import submitted

pytestmark = pytest.mark.usefixtures("cheap_passwords")

# -- slots and statuses on fixed datetimes ---------------------------------------------------------

SHIFTS = [Shift("early", "早班", "08:00", "16:00"), Shift("late", "中班", "14:00", "22:00"),
          Shift("night", "夜班", "22:00", "08:00")]
AREAS = [Named("f1", "一层大堂"), Named("f2", "二层商铺")]
FRIDAY = dt.date(2026, 11, 27)


def centre(*rules: Schedule) -> SimpleNamespace:
    """A handbook with just what schedules read: shifts, areas and the schedule rules."""
    org = SimpleNamespace(shifts={s.id: s for s in SHIFTS}, areas={a.id: a for a in AREAS})
    return SimpleNamespace(organisation=org, rules=Rules(schedules=list(rules)))


PATROL = Schedule("patrol", "shift", 1, times={"early": ("10:00",), "night": ("02:00",)}, per_area=True,
                  grace_minutes=60)
HANDOVER = Schedule("handover", "shift_change", 2, grace_minutes=30)
WEEKLY = Schedule("weekly-meeting", "week", 3, time="16:00", weekday=4, grace_minutes=120)
MONTHLY = Schedule("monthly-support-stats", "month", 4, time="18:00", day=4)
MORNING = Schedule("morning-meeting", "day", 5, time="08:00", grace_minutes=60)


def sub(form_id: str, created: dt.datetime, record_date: dt.date | None = None, shift: str = "", area: str = "",
        uid: str = "") -> Submitted:
    return Submitted(uid or f"{form_id}-{created:%d%H%M}", form_id, record_date or created.date(), shift, area,
                     created, 1, "张三")


def test_patrol_slots_per_area_per_shift_at_the_shift_times():
    slots = schedule.slots_on(centre(PATROL), FRIDAY)
    assert [(s.shift, s.area, s.due_at, s.deadline) for s in slots] == [
        ("早班", "一层大堂", at(FRIDAY, "10:00"), at(FRIDAY, "11:00")),
        ("早班", "二层商铺", at(FRIDAY, "10:00"), at(FRIDAY, "11:00")),
        # the night shift starts on Friday: its 02:00 patrol is Saturday's early morning, in Friday's slots
        ("夜班", "一层大堂", at(FRIDAY + dt.timedelta(days=1), "02:00"), at(FRIDAY + dt.timedelta(days=1), "03:00")),
        ("夜班", "二层商铺", at(FRIDAY + dt.timedelta(days=1), "02:00"), at(FRIDAY + dt.timedelta(days=1), "03:00")),
    ]
    assert {s.date for s in slots} == {FRIDAY}


def test_handover_at_every_shift_end_the_night_one_the_next_morning():
    slots = schedule.slots_on(centre(HANDOVER), FRIDAY)
    assert [(s.shift, s.due_at, s.deadline) for s in slots] == [
        ("早班", at(FRIDAY, "16:00"), at(FRIDAY, "16:30")),
        ("中班", at(FRIDAY, "22:00"), at(FRIDAY, "22:30")),
        ("夜班", at(dt.date(2026, 11, 28), "08:00"), at(dt.date(2026, 11, 28), "08:30")),
    ]


def test_weekly_on_its_weekday_monthly_on_its_day_daily_every_day():
    hb = centre(WEEKLY, MONTHLY, MORNING)
    week = schedule.slots_between(hb, dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert [(s.form_id, s.date) for s in week if s.form_id != "morning-meeting"] == [("weekly-meeting", FRIDAY)]
    assert [s.due_at for s in week if s.form_id == "weekly-meeting"] == [at(FRIDAY, "16:00")]
    assert len([s for s in week if s.form_id == "morning-meeting"]) == 7
    december = schedule.slots_between(hb, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    monthly = [s for s in december if s.form_id == "monthly-support-stats"]
    assert [(s.due_at, s.deadline) for s in monthly] == [(at(dt.date(2026, 12, 4), "18:00"),) * 2]
    # the board of any day shows its week's and month's slots
    assert [(s.form_id, s.date) for s in schedule.period_slots(hb, dt.date(2026, 11, 23))] == [
        ("weekly-meeting", FRIDAY), ("monthly-support-stats", dt.date(2026, 11, 4))]


def status_of(hb, slots, subs, now):
    return [(s.shift, s.area, s.status, s.submission_uid) for s in schedule.match(hb, slots, subs, now)]


def test_done_within_grace_late_after_it_missed_when_nothing_came():
    hb = centre(PATROL)
    slots = [s for s in schedule.slots_on(hb, FRIDAY) if s.shift == "早班"]
    subs = [sub("patrol", at(FRIDAY, "10:59"), shift="早班", area="一层大堂", uid="a"),
            sub("patrol", at(FRIDAY, "11:01"), shift="早班", area="二层商铺", uid="b")]
    assert status_of(hb, slots, subs, at(FRIDAY, "12:00")) == [
        ("早班", "一层大堂", "done", "a"), ("早班", "二层商铺", "late", "b")]
    assert status_of(hb, slots, subs[:1], at(FRIDAY, "10:30")) == [
        ("早班", "一层大堂", "done", "a"), ("早班", "二层商铺", "due", "")]
    assert status_of(hb, slots, [], at(FRIDAY, "11:00")) == [("早班", "一层大堂", "due", ""),
                                                                ("早班", "二层商铺", "due", "")]
    assert status_of(hb, slots, [], at(FRIDAY, "11:01")) == [("早班", "一层大堂", "missed", ""),
                                                                ("早班", "二层商铺", "missed", "")]


def test_matching_needs_the_same_shift_area_and_date():
    hb = centre(PATROL)
    slots = [s for s in schedule.slots_on(hb, FRIDAY) if s.shift == "早班" and s.area == "一层大堂"]
    others = [sub("patrol", at(FRIDAY, "10:00"), shift="中班", area="一层大堂"),
              sub("patrol", at(FRIDAY, "10:00"), shift="早班", area="二层商铺"),
              sub("patrol", at(FRIDAY, "10:00"), FRIDAY - dt.timedelta(days=1), shift="早班", area="一层大堂"),
              sub("morning-meeting", at(FRIDAY, "10:00"), shift="早班", area="一层大堂")]
    assert status_of(hb, slots, others, at(FRIDAY, "12:00")) == [("早班", "一层大堂", "missed", "")]


def test_two_patrol_times_in_a_shift_take_the_patrols_in_created_order():
    hb = centre(Schedule("patrol", "shift", 1, times={"early": ("10:00", "14:00")}, grace_minutes=60))
    slots = schedule.slots_on(hb, FRIDAY)
    subs = [sub("patrol", at(FRIDAY, "14:30"), shift="早班", uid="second"),
            sub("patrol", at(FRIDAY, "10:20"), shift="早班", uid="first")]
    assert status_of(hb, slots, subs, at(FRIDAY, "16:00")) == [("早班", "", "done", "first"),
                                                                  ("早班", "", "done", "second")]
    # one patrol, and late: it counts for the first time; the second is still to come
    late = [sub("patrol", at(FRIDAY, "12:00"), shift="早班", uid="only")]
    assert status_of(hb, slots, late, at(FRIDAY, "13:00")) == [("早班", "", "late", "only"), ("早班", "", "due", "")]


def test_a_night_shifts_forms_dated_the_next_day_count_for_the_night_it_began():
    hb = centre(PATROL, HANDOVER)
    saturday = FRIDAY + dt.timedelta(days=1)
    night = [s for s in schedule.slots_on(hb, FRIDAY) if s.shift == "夜班"]
    subs = [sub("patrol", at(saturday, "02:10"), saturday, "夜班", "一层大堂", "p1"),  # dated today at 02:10
            sub("patrol", at(saturday, "01:50"), FRIDAY, "夜班", "二层商铺", "p2"),  # dated the evening it began
            sub("handover", at(saturday, "09:00"), saturday, "夜班", uid="h")]  # handed over late
    assert status_of(hb, night, subs, at(saturday, "12:00")) == [
        ("夜班", "一层大堂", "done", "p1"), ("夜班", "二层商铺", "done", "p2"), ("夜班", "", "late", "h")]
    # Saturday's own night shift, begun at 22:00, is not Friday's
    tonight = [sub("patrol", at(saturday, "23:00"), saturday, "夜班", "一层大堂", "p3")]
    assert status_of(hb, night[:1], tonight, at(saturday, "12:00")) == [("夜班", "一层大堂", "missed", "")]
    assert status_of(hb, schedule.slots_on(hb, saturday)[2:3], tonight, at(saturday, "23:30")) == [
        ("夜班", "一层大堂", "done", "p3")]


def test_weekly_and_monthly_take_any_record_of_their_week_or_month():
    hb = centre(WEEKLY, MONTHLY)
    weekly = schedule.slots_on(hb, FRIDAY)
    thursday = [sub("weekly-meeting", at(FRIDAY - dt.timedelta(days=1), "16:00"), uid="w")]
    assert status_of(hb, weekly, thursday, at(FRIDAY, "20:00")) == [("", "", "done", "w")]
    last_week = [sub("weekly-meeting", at(FRIDAY - dt.timedelta(days=7), "16:00"))]
    assert status_of(hb, weekly, last_week, at(FRIDAY, "17:59")) == [("", "", "due", "")]
    assert status_of(hb, weekly, last_week, at(FRIDAY, "18:01")) == [("", "", "missed", "")]
    monthly = [s for s in schedule.slots_on(hb, dt.date(2026, 12, 4)) if s.every == "month"]  # a Friday too
    assert status_of(hb, monthly, [sub("monthly-support-stats", at(dt.date(2026, 12, 2), "09:00"), uid="m")],
                     at(dt.date(2026, 12, 10), "09:00")) == [("", "", "done", "m")]
    assert status_of(hb, monthly, [sub("monthly-support-stats", at(dt.date(2026, 12, 7), "09:00"), uid="m")],
                     at(dt.date(2026, 12, 10), "09:00")) == [("", "", "late", "m")]


def test_the_repositorys_schedules_give_a_day_its_slots():
    """schedules.yaml and organisation.yaml as shipped: every scheduled form exists, every day has slots."""
    from handbook.load import require_handbook
    from tests.server_support import ROOT

    hb = require_handbook(ROOT)
    slots = schedule.slots_between(hb, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    forms = {f.id for f in hb.forms}
    assert {s.form_id for s in slots} == {r.form for r in hb.rules.schedules} <= forms
    assert all(s.deadline >= s.due_at for s in slots)


# -- the board on each database --------------------------------------------------------------------


def created_at(app, uid: str, local: dt.datetime) -> None:
    """Pretend the submission came in at `local` (the centre's time)."""
    utc = local.replace(tzinfo=app.extensions["catalogue"].timezone).astimezone(dt.UTC).replace(tzinfo=None)
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Submission).where(Submission.uid == uid).values(created_at=utc))


def slot_rows(html: str, form_id: str = "patrol") -> dict[str, str]:
    """'shift · area' → status name, for the slots of one form on the board."""
    section = re.search(rf'id="form-{form_id}">(.*?)</section>', html, re.S).group(1)
    rows = re.findall(r'class="slot-what">(.*?)</span>\s*<span class="badge status-\w+">(.*?)</span>', section)
    return {what.strip(): status for what, status in rows}


def test_the_board_shows_a_patrol_done_for_its_area_and_the_rest_due_or_missed(app, clock):
    staff = person(app, "zhang", name="张三")
    areas = [a.name for a in app.extensions["catalogue"].handbook.organisation.areas.values()]
    done = submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=areas[0]))
    created_at(app, done, at(DAY, "09:40"))
    late = submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=areas[1]))
    created_at(app, late, at(DAY, "11:20"))
    boss = person(app, "wang", role="supervisor", name="王主管")
    page = boss.get("/board/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = slot_rows(html)
    assert rows[f"早班 · {areas[0]}"] == "已交"
    assert rows[f"早班 · {areas[1]}"] == "迟交"
    assert all(rows[f"早班 · {a}"] == "漏交" for a in areas[2:])  # 10:00 + 60 minutes has passed at 12:00
    assert all(rows[f"{s} · {a}"] == "待交" for s in ("中班", "夜班") for a in areas)
    assert f'href="/records/{done}"' in html and 'href="/forms/patrol"' in html
    assert "张三" in re.search(r"按人员(.*?)</section>", html, re.S).group(1)
    # the same record, seen another day, counts for its own day only
    other = slot_rows(boss.get(f"/board/?date={(DAY + dt.timedelta(days=1)).isoformat()}").get_data(as_text=True))
    assert set(other.values()) == {"待交"}
    # at 02:00 the night shift that began yesterday evening is on: the board opens on its day
    clock(at(DAY + dt.timedelta(days=1), "02:00"))
    assert "今日看板 · 2026-11-23" in boss.get("/board/").get_data(as_text=True)
    clock(at(DAY + dt.timedelta(days=1), "08:00"))
    assert "今日看板 · 2026-11-24" in boss.get("/board/").get_data(as_text=True)


def test_a_supervisor_sees_only_their_teams_records_a_manager_all(app, clock):
    staff = person(app, "zhang", team="hotline")
    area = next(iter(app.extensions["catalogue"].handbook.organisation.areas.values())).name
    uid = submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=area))
    created_at(app, uid, at(DAY, "09:40"))
    desk_boss = person(app, "wang", role="supervisor", team="desk")
    assert slot_rows(desk_boss.get("/board/").get_data(as_text=True))[f"早班 · {area}"] == "漏交"
    manager = person(app, "zhao", role="manager", team="desk")
    assert slot_rows(manager.get("/board/").get_data(as_text=True))[f"早班 · {area}"] == "已交"


def test_a_fault_opens_a_corrective_action_on_the_board_overdue_once_past_due(app, clock):
    staff = person(app, "zhang", name="张三")
    submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), cctv="fault", cctv_note="B1 监控黑屏"))
    boss = person(app, "wang", role="supervisor")
    clock(dt.datetime.combine(dt.date.today(), dt.time(12, 0)))  # the case's due date runs from the real clock
    section = re.search(r'id="corrective">(.*?)</section>', boss.get("/board/").get_data(as_text=True), re.S).group(1)
    assert "监控黑屏" in section and "待指派" in section and "待整改" in section
    assert "已逾期" not in section
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Case).where(Case.workflow_id == "corrective")
                           .values(due_at=dt.datetime(2026, 1, 1, 0, 0)))
    section = re.search(r'id="corrective">(.*?)</section>', boss.get("/board/").get_data(as_text=True), re.S).group(1)
    assert "已逾期" in section
    case_id = app.extensions["db_sessions"]().query(Case.id).scalar()
    assert f'href="/cases/{case_id}"' in section
    # verified: off the board
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Case).values(state="verified"))
    assert "监控黑屏" not in boss.get("/board/").get_data(as_text=True)


def test_staff_may_not_open_the_board(app, clock):
    staff = person(app, "zhang")
    assert staff.get("/board/").status_code == 403


@pytest.mark.parametrize("value", ["2026-13-01", "昨天", "2026/11/23", "x" * 300])
def test_a_bad_date_is_refused_in_chinese(app, clock, value):
    boss = person(app, "wang", role="supervisor")
    page = boss.get("/board/", query_string={"date": value})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "日期格式有误" in html and "Traceback" not in html


def tally(html: str, title: str) -> dict[str, list[int]]:
    """name → [应交, 已交, 迟交, 漏交, 待交] of one summary table."""
    section = re.search(rf"<h2>{title}</h2>(.*?)</section>", html, re.S).group(1)
    rows = re.findall(r'role="rowheader">(.*?)</span>((?:\s*<span class="n[^"]*">\d+</span>)+)', section)
    return {name: [int(n) for n in re.findall(r">(\d+)<", numbers)] for name, numbers in rows}


def test_the_summaries_count_per_form_area_and_person(app, clock):
    staff = person(app, "zhang", name="张三")
    areas = [a.name for a in app.extensions["catalogue"].handbook.organisation.areas.values()]
    uid = submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=areas[0]))
    created_at(app, uid, at(DAY, "09:40"))
    html = person(app, "wang", role="supervisor").get("/board/").get_data(as_text=True)
    n = len(areas)
    assert tally(html, "按表单")["巡查检查表"] == [3 * n, 1, 0, n - 1, 2 * n]  # early: 1 done, n-1 missed
    assert tally(html, "按区域")[areas[0]] == [3, 1, 0, 0, 2]
    assert tally(html, "按人员") == {"张三": [1, 1, 0, 0, 0]}
    assert tally(html, "按表单")["晨会记录"] == [1, 0, 0, 1, 0]  # 08:00 + 60 minutes passed at noon


def test_a_deleted_record_no_longer_counts(app, clock):
    staff = person(app, "zhang")
    area = next(iter(app.extensions["catalogue"].handbook.organisation.areas.values())).name
    uid = submitted(staff, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=area))
    created_at(app, uid, at(DAY, "09:40"))
    boss = person(app, "wang", role="supervisor")
    assert slot_rows(boss.get("/board/").get_data(as_text=True))[f"早班 · {area}"] == "已交"
    page = boss.get(f"/records/{uid}")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert boss.post(f"/records/{uid}/delete", data={"csrf_token": csrf, "reason": "重复提交"}).status_code == 303
    assert slot_rows(boss.get("/board/").get_data(as_text=True))[f"早班 · {area}"] == "漏交"


def test_a_blocked_handover_is_on_the_board_and_counts_for_its_shift(app, clock):
    from tests.server_values import minimal_formdata

    staff = person(app, "zhang", name="张三")
    form = app.extensions["catalogue"].forms["handover"]
    values = minimal_formdata(form)
    values.setlist("date", [DAY.isoformat()])
    values.setlist("shift", ["早班"])
    values.setlist("taking_over", ["李四"])
    values.setlist("event_unresolved", ["yes"])
    uid = submitted(staff, "handover", values)
    created_at(app, uid, at(DAY, "16:10"))
    clock(at(DAY, "17:00"))
    html = person(app, "wang", role="supervisor").get("/board/").get_data(as_text=True)
    section = re.search(r'id="blocked-handovers">(.*?)</section>', html, re.S).group(1)
    assert f'href="/records/{uid}"' in section and "张三 → 李四" in section and "重大或紧急事件未处理完" in section
    assert slot_rows(html, "handover") == {"早班": "已交", "中班": "待交", "夜班": "待交"}


def test_statuses_over_a_date_range_for_the_monthly_report(app, clock):
    staff = person(app, "zhang", name="张三")
    uid = submitted(staff, "weekly-meeting", {**_filled(app, "weekly-meeting"), "date": "2026-11-26"})
    created_at(app, uid, at(dt.date(2026, 11, 26), "16:30"))
    cat = app.extensions["catalogue"]
    now = at(dt.date(2026, 11, 30), "12:00")
    with app.extensions["db_sessions"]() as session:
        rows = schedule.statuses(session, cat, dt.date(2026, 11, 1), dt.date(2026, 11, 30), now)
        other_team = schedule.statuses(session, cat, dt.date(2026, 11, 1), dt.date(2026, 11, 30), now, team="x")
        desk = schedule.statuses(session, cat, dt.date(2026, 11, 1), dt.date(2026, 11, 30), now, team="desk")
    weekly = {r.date: (r.status, r.person, r.submission_uid) for r in rows if r.form_id == "weekly-meeting"}
    assert weekly[dt.date(2026, 11, 27)] == ("done", "张三", uid)  # held on Thursday: counts for its week
    assert weekly[dt.date(2026, 11, 20)] == ("missed", "", "")
    assert {r.date for r in rows} == {dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(30)}
    assert all(r.deadline >= r.due_at for r in rows)
    assert [r.status for r in other_team if r.form_id == "weekly-meeting" and r.date.day == 27] == ["missed"]
    assert [r.user_id is not None for r in desk if r.submission_uid == uid] == [True]


def _filled(app, form_id: str) -> dict:
    from tests.server_values import minimal_formdata

    return {k: v for k, v in minimal_formdata(app.extensions["catalogue"].forms[form_id]).items()}


def test_nothing_counts_as_missed_before_the_server_was_first_used(tmp_path):
    """A new installation's board and monthly report count nothing as missed before its forms were first
    registered; what is due from then on, or was filled in anyway, counts."""
    from formserver.operations.schedule import statuses
    from tests.server_support import make_app as make

    app = make(f"sqlite:///{tmp_path / 'new.sqlite3'}", tmp_path, SCHEDULES_FROM="")
    catalogue = app.extensions["catalogue"]
    now = catalogue.now()
    assert dt.timedelta(0) <= now - catalogue.schedules_from < dt.timedelta(minutes=5)
    with app.extensions["db_sessions"]() as db:
        got = statuses(db, catalogue, now.date() - dt.timedelta(days=10), now.date() + dt.timedelta(days=1), now)
    assert got and all(s.status == "due" and s.deadline >= now for s in got)
    with pytest.raises(ValueError, match="SCHEDULES_FROM"):
        make(f"sqlite:///{tmp_path / 'new.sqlite3'}", tmp_path, SCHEDULES_FROM="2026-13-01")
