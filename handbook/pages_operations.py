"""The operating rules of checklists/rules/ as handbook text: when each form is due, what follows a failed
check, how a handover is blocked and what it carries over, the steps of each flow. The same rules the form
server follows, so staff read in the handbook exactly what the server will ask of them."""

from __future__ import annotations

from .formmodel import Form
from .model import WEEKDAYS, Handbook
from .render import cell, clause_link, form_page, link
from .rules import STEP_BY, Schedule, Workflow

PAGE = "forms/operations.md"


def _refs(hb: Handbook, page: str, refs) -> str:
    return " ".join(f"[{r}]({clause_link(hb, page, r)})" for r in refs if r in hb.clauses)


def describe_schedule(hb: Handbook, s: Schedule) -> str:
    """When a form is due, in words: 每班(早班 10:00;中班 19:00)…,每个区域各一份."""
    shifts = hb.organisation.shifts
    if s.every == "shift":
        when = "每班:" + ";".join(f"{shifts[k].name} {'、'.join(v)}" for k, v in s.times.items() if k in shifts)
    elif s.every == "shift_change":
        when = "每次交接班,于交班班次结束时(" + "、".join(f"{x.name} {x.end}" for x in shifts.values()) + ")"
    else:
        at = "" if s.time == "00:00" and s.every != "day" else f" {s.time}"  # 00:00: before that day begins
        day = {"day": "每天", "week": f"每周{WEEKDAYS[s.weekday][1:]}", "month": f"每月 {s.day} 日"}[s.every]
        when = f"{day}{at} 前" if at else f"{day}前"
    if s.per_area:
        when += ",每个区域各一份"
    if s.grace_minutes:
        when += f"(逾时 {s.grace_minutes} 分钟内仍算按时)"
    return when


def _flow_table(hb: Handbook, page: str, flow: Workflow, form: Form | None) -> list[str]:
    labels = {i.id: i.label for i in (form.all_items() if form else flow.fields)}
    rows = ["| 步骤 | 由谁办理 | 记录 | 时限 | 依据 |", "| --- | --- | --- | --- | --- |"]
    for n, step in enumerate(flow.steps):
        who = "开启" if n == 0 else STEP_BY.get(step.by, step.by)
        recorded = "、".join(labels.get(f, f) for f in step.fields)
        if step.stamp:
            recorded += ("," if recorded else "") + f"{labels.get(step.stamp, step.stamp)}(系统时间)"
        due = ""
        if step.due:
            start = next((s.name for s in flow.steps if s.id == step.due.start), step.due.start)
            hours = step.due.hours
            due = f"{start}后 {hours // 24} 天内" if hours % 24 == 0 and hours >= 48 else f"{start}后 {hours} 小时内"
        refs = _refs(hb, page, step.refs + (step.due.refs if step.due else ()))
        rows.append(f"| {cell(step.name)} | {who} | {cell(recorded)} | {due} | {refs} |")
    return rows


def _handover_lines(hb: Handbook, page: str, form: Form) -> list[str]:
    rules = hb.rules.handover
    labels = {i.id: i.label for i in form.all_items()}
    blocking = "、".join(labels.get(b.item, b.item) for b in rules.blocking)
    carried = "、".join(c.label for c in rules.carry_over)
    if rules.open_corrective_actions:
        carried += "、未验证的整改事项"
    lines = [f"- **不得交接班**:{blocking},任一项为“是”时交接不能完成;交班人继续值守并报告主管,情形消除后"
             f"更正记录再交接。{_refs(hb, page, rules.refs)}"]
    if (t := rules.takeover) is not None:
        role = hb.organisation.roles.get(t.by)
        name = role.name if role else STEP_BY.get(t.by, t.by)
        covered = "、".join(labels.get(c, c) for c in t.conditions)
        lines.append(f"- **{name}接替交班**:出现{covered}之一、到换班时间仍不能消除的,"
                     f"由{name}接替交班人员值守、接手处理,以交班人身份签字后与接班人交接;其他情形只能消除后交接。"
                     f"{_refs(hb, page, t.refs)}")
    return [*lines,
            f"- **带入下一班**:{carried},列在下一班交接班记录的开头,直到有人写明说明后关闭。",
            "- **交接双方**:交班人提交即签名,接班人登录后确认接班;两者的时间都取服务器时钟。"]


def _checkpoint_lines(hb: Handbook, page: str) -> tuple[str, list[str]]:
    """(the bullet, the table of routes) for the form a checkpoint scan opens."""
    points = hb.rules.checkpoints
    bullet = ("- **巡更点**:巡查路线上贴有巡更点二维码,巡查人到达时用手机扫码,服务器记录到达时间并打开本表"
              "(区域已选好);同一人同一班次在同一区域扫的点归入同一份记录,记录中列出已扫和未扫的点。"
              f"{_refs(hb, page, points.refs)}")
    rows = ["| 区域 | 巡更点 | 张贴位置 | 编号 |", "| --- | --- | --- | --- |"]
    for area_id in points.areas():
        area = hb.organisation.areas.get(area_id)
        rows += [f"| {cell(area.name if area else area_id)} | {cell(p.name)} | {cell(p.location)} | `{p.id}` |"
                 for p in points.of_area(area_id)]
    return bullet, ["", "### 巡更点", "", *rows]


def form_operations(hb: Handbook, form: Form) -> list[str]:
    """The lines a form's page gets about what follows it; [] when no rule names the form."""
    page = form_page(form.id)
    rules = hb.rules
    out: list[str] = []
    for s in rules.schedules:
        if s.form == form.id:
            refs = _refs(hb, page, dict.fromkeys(s.refs + s.grace_refs))
            out.append(f"- **应交时间**:{describe_schedule(hb, s)}。{refs}")
    corrective = rules.workflow("corrective")
    if corrective and any(i.kind == "check" for i in form.all_items() + [c for i in form.all_items()
                                                                           for c in i.columns]):
        out.append(f"- **检查项为“异常”的**:在线提交后自动生成{corrective.title},跟进至验证为止。"
                   f"{_refs(hb, page, corrective.refs)}")
    if rules.handover and rules.handover.form == form.id:
        out += _handover_lines(hb, page, form)
    routes: list[str] = []
    if rules.checkpoints is not None and rules.checkpoints.form == form.id and rules.checkpoints.points:
        bullet, routes = _checkpoint_lines(hb, page)
        out.append(bullet)
    flow = rules.workflow_for_form(form.id)
    if flow:
        out += ["", f"### {flow.title}流程", "", *_flow_table(hb, page, flow, form)]
    for sc in (sc for sc in rules.spot_checks if sc.form == form.id):
        out += ["", f"每日服务质量抽查:不少于当日本表的 {sc.percent} %,由主管逐单检查并记录。"
                    f"{_refs(hb, page, sc.refs)}"]
    out += routes
    if out:
        out = ["## 填写之后", "", *out, "", f"全部规则见[日常运营规则]({link(page, PAGE)})。", ""]
    return out


def operations_page(hb: Handbook) -> str:
    rules = hb.rules
    forms = {f.id: f for f in hb.forms}
    out = ["# 日常运营规则", "",
           "表单何时应交、提交之后如何跟进。在线表单系统按同样的规则生成今日看板、整改事项、交接事项和流程。", ""]
    if rules.schedules:
        out += ["## 应交时间", "", "| 表单 | 何时 | 依据 |", "| --- | --- | --- |"]
        for s in rules.schedules:
            title = forms[s.form].title if s.form in forms else s.form
            out.append(f"| [{cell(title)}]({link(PAGE, form_page(s.form))}) | {cell(describe_schedule(hb, s))} | "
                       f"{_refs(hb, PAGE, dict.fromkeys(s.refs + s.grace_refs))} |")
        out.append("")
    for flow in rules.workflows:
        form = forms.get(flow.form)
        source = (f"提交[{form.title}]({link(PAGE, form_page(form.id))})即开启" if form
                  else "任一表单的检查项为“异常”即开启")
        out += [f"## {flow.title}", "", f"{source}。{_refs(hb, PAGE, flow.refs)}", "",
                *_flow_table(hb, PAGE, flow, form), ""]
    if rules.handover and rules.handover.form in forms:
        out += ["## 交接班", "", *_handover_lines(hb, PAGE, forms[rules.handover.form]), ""]
    return "\n".join(out)
