"""checklists/rules/: the operating rules load from the real source, and each mistake in them is reported
with its file, line, code and a Chinese message, like every other source file."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from handbook.load import load_handbook
from tests.server_support import ROOT

RULES = "checklists/rules"


@pytest.fixture(scope="module")
def real():
    hb, problems = load_handbook(ROOT)
    assert problems == []
    return hb


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for folder in ("regulations", "checklists"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_the_real_rules_load(real):
    rules = real.rules
    assert {s.form: s.every for s in rules.schedules} == {
        "patrol": "shift", "handover": "shift_change", "morning-meeting": "day", "weekly-meeting": "week",
        "monthly-support-stats": "month"}
    weekly = next(s for s in rules.schedules if s.form == "weekly-meeting")
    assert (weekly.weekday, weekly.time) == (4, "16:00")  # Friday 16:00
    assert next(s for s in rules.schedules if s.form == "monthly-support-stats").day == 4
    assert [b.item for b in rules.handover.blocking] == [
        "event_unresolved", "equipment_switching", "preparation_incomplete", "taker_unfit"]
    complaint = rules.workflow_for_form("complaint")
    assert [s.name for s in complaint.steps] == ["受理", "处理", "回复", "回访", "归档"]
    assert complaint.step("replied").due.hours == 24 and complaint.step("replied").due.start == "accepted"
    assert rules.workflow("corrective").step("done").due.hours == 72
    assert [s.id for s in rules.workflow("corrective").steps] == ["open", "in_progress", "done", "verified"]
    assert (rules.spot_checks[0].form, rules.spot_checks[0].percent) == ("call-log", 20)  # the day's calls
    takeover = rules.handover.takeover
    assert (takeover.by, takeover.refs) == ("supervisor", ("KF-11.16",))
    assert "taker_unfit" not in takeover.conditions  # only a substitute can take over from an unfit taker
    assert next(s for s in rules.schedules if s.form == "patrol").grace_refs == ("KF-07.11",)
    assert [f.id for f in rules.report.figures] == ["visits", "tickets", "costs", "complaints", "satisfaction",
                                                    "patrol_score"]
    assert rules.report.figures[-1].score == "patrol"
    notify = rules.notifications
    assert notify.of("form_due").lead == 15 and notify.of("form_missed").escalate_after == 30
    assert notify.of("case_due", "complaint").refs == ("KF-14.30",)  # the 24-hour reply it reminds of
    assert notify.of("case_due", "service-ticket").workflow == ""  # the rule of every other flow


def edit(project: Path, name: str, old: str, new: str) -> int:
    """Replace `old` once in checklists/rules/<name>.yaml; the line the change is on."""
    path = project / RULES / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


CASES = [
    # (file, old, new, code, text in the message)
    ("schedules", "form: weekly-meeting", "form: weekly-meting", "dangling-ref", "weekly-meeting"),
    ("schedules", 'night: ["02:00"]', 'night: ["25:00"]', "bad-time", "25:00"),
    ("schedules", 'night: ["02:00"]', 'nite: ["02:00"]', "dangling-ref", "班次"),
    ("schedules", "weekday: 周五", "weekday: 星期五", "bad-choice", "星期五"),
    ("schedules", "    day: 4\n", "    day: 31\n", "int-range", "31"),
    ("schedules", "grace_minutes: 120", "grace_minutes: soon", "bad-int", "soon"),
    ("handover", "{item: taker_unfit, ref: KF-11.14}", "{item: major_issues, ref: KF-11.14}", "rules-item-kind",
     "major_issues"),
    ("handover", "text: item_name", "text: item", "dangling-ref", "item_name"),
    ("handover", "{status: 未处理}", "{state: 未处理}", "dangling-ref", "status"),
    ("workflows", "due: {from: accepted, hours: 24, ref: KF-14.30}", "due: {from: acepted, hours: 24}",
     "dangling-ref", "accepted"),
    ("workflows", "due: {from: accepted, hours: 24, ref: KF-14.30}", "due: {from: accepted, hours: 24, days: 1}",
     "workflow-due", "hours"),
    ("workflows", "required: [handling_opinion]", "required: [reply_content]", "workflow-steps", "reply_content"),
    ("workflows", "fields: [reply_content]", "fields: [reply_contents]", "dangling-ref", "reply_content"),
    ("workflows", "stamp: reply_time", "stamp: reply_content", "rules-item-kind", "reply_content"),
    ("workflows", "by: supervisor, fields: [leader_instruction]", "by: boss, fields: [leader_instruction]",
     "bad-choice", "boss"),
    ("workflows", "percent: 20", "percent: 120", "int-range", "120"),
    ("workflows", "label: 整改结果, lines: 2}", "label: 整改结果, lines: 2, show_when: {item: progress_note, is: 是}}",
     "form-condition", "show_when"),
    ("workflows", "ref: [KF-13.23, KF-13.34]", "ref: [KF-13.99]", "dangling-ref", "KF-13.99"),
    # a rule that relaxes a clause cites the clause that permits it, and that clause states the value
    ("schedules", "    grace_ref: KF-07.11\n", "", "rules-uncited", "grace_minutes: 60"),
    ("schedules", "grace_ref: KF-07.11", "grace_ref: KF-07.2", "rules-unstated", "KF-07.2"),
    ("schedules", "grace_ref: KF-11.17", "grace_ref: KF-11.99", "dangling-ref", "KF-11.99"),
    ("schedules", 'late: ["19:00"]', 'late: ["18:30"]', "rules-unstated", "18:30"),
    ("schedules", 'time: "16:00"', 'time: "17:00"', "rules-unstated", "17:00"),
    ("schedules", "grace_minutes: 120", "grace_minutes: 90", "rules-unstated", "90 分钟"),
    ("workflows", "due: {from: open, days: 3, ref: KF-07.12}", "due: {from: open, days: 3}", "rules-uncited", "3 天"),
    ("workflows", "due: {from: open, days: 3, ref: KF-07.12}", "due: {from: open, days: 5, ref: KF-07.12}",
     "rules-unstated", "5 天"),
    ("workflows", "due: {from: accepted, hours: 24, ref: KF-14.30}", "due: {from: accepted, hours: 48, ref: KF-14.30}",
     "rules-unstated", "48 小时"),
    ("workflows", "percent: 20", "percent: 10", "rules-unstated", "10 %"),
    ("workflows", "show: [call_time,", "show: [call_tme,", "dangling-ref", "call_time"),
    ("workflows", "    owner: assigned\n", "    owner: assigned\n    due_days: 3\n", "unknown-key", "due_days"),
    ("handover", "  ref: KF-11.16\n", "  ref: KF-11.15\n", "rules-unstated", "KF-11.15"),
    ("handover", "conditions: [event_unresolved, equipment_switching, preparation_incomplete]",
     "conditions: [event_unresolved, taker_unfitt]", "dangling-ref", "taker_unfit"),
    ("handover", "takeover:\n  by: supervisor", "override_by: supervisor\ntakeover:\n  by: supervisor", "unknown-key",
     "override_by"),
    ("reports", "count: complaint, person: receiver", "count: complaint, person: complainant", "rules-item-kind",
     "complainant"),
    ("reports", "good: [非常满意, 满意]", "good: [非常满意, 很满意]", "bad-choice", "很满意"),
    ("reports", "unit: 件, count: complaint", "unit: 件, count: complaint, sum: [complaint.x]", "report-figure",
     "complaints"),
    ("reports", "penalties: penalties", "penalties: meetings", "dangling-ref", "meetings"),
    ("reports", "score: patrol}", "score: complaint}", "report-score", "complaint"),
    ("reports", "score: patrol}", "score: patrl}", "dangling-ref", "patrl"),
    # notifications.yaml: events, minutes, channels and flows are checked like every other rule
    ("notifications", "event: handover_blocked", "event: handover_block", "bad-choice", "handover_block"),
    ("notifications", "lead_minutes: 15", "lead_minutes: 15分钟", "bad-int", "15分钟"),
    ("notifications", "lead_minutes: 15", "lead_minutes: 99999", "int-range", "99999"),
    ("notifications", "    channels: [inbox, email]\n  - event: path_due",
     "    channels: [inbox, sms]\n  - event: path_due", "bad-choice", "sms"),
    ("notifications", "workflow: corrective", "workflow: corrective-action", "dangling-ref", "corrective-action"),
    ("notifications", "workflow: corrective", "workflow: service-ticket", "notify-workflow-due", "service-ticket"),
    ("notifications", "  - event: handover_blocked\n", "  - event: handover_blocked\n    workflow: complaint\n",
     "notify-workflow", "handover_blocked"),
    ("notifications", "escalate_after_minutes: 30", "escalate_minutes: 30", "unknown-key", "escalate_minutes"),
    ("notifications", "ref: KF-14.30", "ref: KF-14.99", "dangling-ref", "KF-14.99"),
    ("notifications", "workflow: corrective", "workflow: complaint", "duplicate-id", "complaint"),
    # checkpoints.yaml: areas, ids, the form and clauses are checked like every other rule
    ("checkpoints", "  - area: garden\n", "  - area: gardn\n", "dangling-ref", "区域 “gardn”"),
    ("checkpoints", "{id: garden-wall,", "{id: garden-plaza,", "duplicate-id", "garden-plaza"),
    ("checkpoints", "  - area: garden\n", "  - area: f1\n", "duplicate-id", "f1"),
    ("checkpoints", "{id: sales-centre,", "{id: Sales_Centre,", "bad-id", "Sales_Centre"),
    ("checkpoints", "{id: sales-centre, name: 销售中心,", "{id: sales-centre, title: 销售中心,", "unknown-key",
     "title"),
    ("checkpoints", "form: patrol", "form: patrl", "dangling-ref", "patrl"),
    ("checkpoints", "form: patrol", "form: call-log", "checkpoints-form", "call-log"),
    ("checkpoints", "ref: KF-07.2", "ref: KF-07.99", "dangling-ref", "KF-07.99"),
]


@pytest.mark.parametrize(("name", "old", "new", "code", "contains"), CASES,
                         ids=[f"{c[0]}-{c[3]}-{n}" for n, c in enumerate(CASES)])
def test_a_mistake_is_reported_on_its_line(project: Path, name: str, old: str, new: str, code: str,
                                           contains: str) -> None:
    line = edit(project, name, old, new)
    _, problems = load_handbook(project)
    matching = [p for p in problems if p.code == code and p.path == f"{RULES}/{name}.yaml"]
    assert matching, [str(p) for p in problems]
    problem = matching[0]
    assert problem.line == line or abs(problem.line - line) <= 2, str(problem)  # a flow mapping: its own line
    assert contains in str(problem)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem.message + problem.fix)


def test_the_real_checkpoints_load(real):
    points = real.rules.checkpoints
    assert points.form == "patrol" and points.refs == ("KF-07.2",)
    assert points.areas() == list(real.organisation.areas)  # every area has a patrol route
    desk = points.get("f1-desk")
    assert (desk.name, desk.area, desk.location) == ("总服务台", "f1", "一层大堂总服务台左侧立柱")
    assert [p.id for p in points.of_area("showroom")] == ["showroom-entry", "sales-centre"]
    assert points.get("nowhere") is None


def test_handbook_check_reports_a_checkpoint_of_an_unknown_area(project: Path, capsys) -> None:
    from handbook.cli import main

    line = edit(project, "checkpoints", "  - area: garden\n", "  - area: roof\n")
    assert main(["--root", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert f"{RULES}/checkpoints.yaml:{line}: 引用了不存在的区域 “roof”" in err


def test_checkpoints_are_optional(project: Path) -> None:
    (project / RULES / "checkpoints.yaml").unlink()
    hb, problems = load_handbook(project)
    assert problems == [] and hb.rules.checkpoints is None


def test_a_rules_file_that_is_not_yaml_names_file_and_line(project: Path) -> None:
    (project / RULES / "workflows.yaml").write_text("workflows:\n  - id: x\n   title: y\n", encoding="utf-8")
    _, problems = load_handbook(project)
    assert [(p.path, p.code) for p in problems] == [(f"{RULES}/workflows.yaml", "yaml-syntax")]


def test_rules_files_are_optional(project: Path) -> None:
    shutil.rmtree(project / RULES)
    hb, problems = load_handbook(project)
    assert problems == [] and hb.rules.schedules == [] and hb.rules.workflows == []


def test_a_new_schedule_is_data_only(project: Path) -> None:
    """A centre adds a daily visitor-register check by editing the file: no Python involved."""
    path = project / RULES / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + (
        '  - form: visitor-register\n    every: day\n    time: "22:00"\n    ref: [KF-09.1, KF-13.32]\n'),
        encoding="utf-8")  # KF-13.32: the desk is open 09:00–22:00, so its register is due at 22:00
    hb, problems = load_handbook(project)
    assert problems == []
    assert hb.rules.schedules[-1].form == "visitor-register"


def test_the_handbook_states_the_rules_the_server_follows(real):
    """One source: the handbook's pages say when each form is due and what follows it, from the same files."""
    from handbook.site import build_nav, build_pages

    pages = build_pages(real)
    ops = pages["forms/operations.md"]
    assert ("| [巡查检查表](patrol.md) | 每班:早班 10:00;中班 19:00;夜班 02:00,每个区域各一份"
            "(逾时 60 分钟内仍算按时)") in ops
    assert "每周五 16:00 前" in ops and "| 每月 4 日前 |" in ops  # 每月 4 号前 (KF-15.16): before the 4th begins
    assert "| 回复 | 负责人 | 答复及处理结果,答复客户时间(系统时间) | 受理后 24 小时内 |" in ops
    assert "| 已完成 | 负责人 | 整改结果 | 待整改后 3 天内 |" in ops
    assert "**不得交接班**:重大或紧急事件未处理完" in pages["forms/handover.md"]
    assert "**客服主管接替交班**:出现重大或紧急事件未处理完" in pages["forms/handover.md"]
    assert "放行" not in pages["forms/handover.md"] + ops
    assert "每日服务质量抽查:不少于当日本表的 20 %" in pages["forms/call-log.md"]
    assert "### 投诉处理流程" in pages["forms/complaint.md"]
    assert "在线提交后自动生成整改事项" in pages["forms/patrol.md"]
    assert "## 填写之后" not in pages["forms/lost-tag.md"]  # nothing follows it
    assert {"日常运营规则": "forms/operations.md"} in dict(next(iter(n.items())) for n in build_nav(real))["表单"]


def test_a_changed_rule_changes_the_handbook(project: Path) -> None:
    from handbook.site import build_pages

    edit(project, "schedules", 'late: ["19:00"]', 'late: ["18:30", "21:00"]')
    _, problems = load_handbook(project)
    assert [(p.code, p.line) for p in problems] == [("rules-unstated", 16)] * 2  # no clause fixes them yet
    regulation = project / "regulations" / "KF-07-patrol.md"
    text = regulation.read_text(encoding="utf-8")
    regulation.write_text(text.replace("{{ shift.late }} 19:00", "{{ shift.late }} 18:30 和 21:00"), encoding="utf-8")
    hb, problems = load_handbook(project)
    assert problems == []
    assert "中班 18:30、21:00" in build_pages(hb)["forms/operations.md"]


# -- operating rules that relax a clause: small inline rules files ------------------------------------------


def write_rules(project: Path, name: str, text: str) -> None:
    (project / RULES / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def found(project: Path) -> list[tuple[str, int, str]]:
    _, problems = load_handbook(project)
    return sorted((p.path, p.line, p.code) for p in problems)


def test_grace_and_fixed_times_need_a_clause_that_states_them(project: Path) -> None:
    write_rules(project, "schedules", """\
        schedules:
          - form: patrol
            every: shift
            per_area: true
            times: {early: ["10:00"], night: ["03:00"]}
            grace_minutes: 45
            grace_ref: KF-07.11
            ref: [KF-07.2, KF-07.11]
          - form: morning-meeting
            every: day
            time: "08:00"
            grace_minutes: 60
            ref: [KF-03.20]
          - form: monthly-support-stats
            every: month
            day: 4
            time: "00:00"
            ref: [KF-15.16]
        """)
    path = f"{RULES}/schedules.yaml"
    # 03:00 and 45 minutes are in no clause; the meeting's 60 minutes cite nothing; 08:00 is KF-03.20's time and
    # 00:00 the start of the day KF-15.16 names (每月 4 号前): both need no more
    assert found(project) == [(path, 5, "rules-unstated"), (path, 6, "rules-unstated"), (path, 12, "rules-uncited")]


def test_the_message_says_what_is_wrong_and_how_to_fix_it(project: Path, capsys) -> None:
    from handbook.cli import main

    grace = edit(project, "schedules", "    grace_ref: KF-11.17\n", "") - 1  # the grace_minutes line above it
    due = edit(project, "workflows", "days: 3, ref: KF-07.12", "days: 3, ref: KF-07.10")
    assert main(["--root", str(project), "check"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"{RULES}/schedules.yaml:{grace}: 表单 handover 的宽限时间 grace_minutes: 30 没有引用允许它的条款 — "
        "在旁边写 grace_ref: 条款编号,引用写明“30 分钟”的条款;没有这样的条款,"
        "先在制度中增加一条并在修订记录中写明理由,或删去这条规则",
        f"{RULES}/workflows.yaml:{due}: 流程 corrective 步骤 “done” 的时限 3 天 引用的 KF-07.10 没有写明“3 天” — "
        "改为引用写明“3 天”的条款;或修订该条款(修订记录写明理由),或把规则改为条款所写的值",
        "发现 2 个问题。"]


def test_a_deadline_may_be_stated_in_chinese_numerals(project: Path) -> None:
    regulation = project / "regulations" / "KF-07-patrol.md"
    text = regulation.read_text(encoding="utf-8")
    clause = "须在发现后 3 天内整改完成"
    regulation.write_text(text.replace(clause, "须在发现后三天内整改完成"), encoding="utf-8")
    assert found(project) == []
    regulation.write_text(text.replace(clause, "须在发现后 3 个工作日内整改完成"), encoding="utf-8")
    assert [code for _path, _line, code in found(project)] == ["rules-unstated"]  # working days are not days


def test_a_supervisor_takes_over_only_where_a_clause_says_so(project: Path) -> None:
    base = """\
        form: handover
        outgoing: handing_over
        incoming: taking_over
        blocking:
          - {item: event_unresolved, ref: KF-11.11}
          - {item: taker_unfit, ref: KF-11.14}
        """
    write_rules(project, "handover", base)
    assert found(project) == []  # no takeover: a blocked handover waits until the condition is gone
    write_rules(project, "handover", base + "takeover: {by: supervisor, conditions: [event_unresolved]}\n")
    assert found(project) == [(f"{RULES}/handover.yaml", 7, "rules-uncited")]
    write_rules(project, "handover", base + "takeover: {by: manager, conditions: [event_unresolved], ref: KF-11.16}")
    assert found(project) == [(f"{RULES}/handover.yaml", 7, "rules-unstated")]  # KF-11.16 names the supervisor
    write_rules(project, "handover", base + "takeover: {by: supervisor, conditions: [event_unresolved], ref: KF-11.16}")
    assert found(project) == []
