"""Read checklists/rules/*.yaml into `Rules`, and check them against the forms, organisation and clauses."""

from __future__ import annotations

import re

from .fields import Fields
from .formmodel import Form, Item
from .kinds import ITEM_KINDS
from .model import WEEKDAYS, Handbook
from .permits import check_permits
from .problems import Problem, did_you_mean, make_problem
from .read_forms import ITEM_ID, _item
from .rules import (
    NOTIFY_CHANNELS,
    NOTIFY_EVENTS,
    OWNERS,
    SCHEDULE_EVERY,
    STEP_BY,
    Blocking,
    CarryOver,
    Due,
    Figure,
    HandoverRules,
    MonthlyReport,
    NotifyRule,
    NotifyRules,
    Rules,
    Schedule,
    SpotCheck,
    Step,
    Takeover,
    Workflow,
)
from .yamlsrc import Mapping, Node

SCHEDULE_KEYS = ("form", "every", "times", "time", "weekday", "day", "per_area", "grace_minutes", "grace_ref",
                 "ref")
HANDOVER_KEYS = ("form", "ref", "blocking", "takeover", "outgoing", "incoming", "incoming_sign", "carry_over",
                 "open_corrective_actions")
TAKEOVER_BY = ("supervisor", "manager")
WORKFLOW_KEYS = ("id", "title", "form", "owner", "ref", "fields", "steps")
STEP_KEYS = ("id", "name", "by", "fields", "required", "stamp", "person", "due", "ref")
FIGURE_KEYS = ("id", "label", "unit", "count", "sum", "rate", "score", "good", "person")
WORKFLOW_ID = re.compile(r"[a-z][a-z0-9-]*")
FORM_ITEM = re.compile(r"([a-z][a-z0-9-]*)\.([a-z][a-z0-9_]*)")
MAX_GRACE = 24 * 60
NOTIFY_KEYS = ("event", "workflow", "lead_minutes", "escalate_after_minutes", "stale_after_minutes", "channels", "ref")
MAX_NOTIFY_MINUTES = 30 * 24 * 60


def _refs(f: Fields, m: Mapping) -> tuple[str, ...]:
    return tuple(v for v, _ in f.text_list(m, "ref", single_ok=True))


def read_schedules(node: Node | None, path: str, problems: list[Problem]) -> list[Schedule]:
    f = Fields(path, problems)
    top = f.mapping(node, "schedules.yaml", ("schedules",), ("schedules",))
    if top is None:
        return []
    schedules = []
    for entry in f.sequence(top, "schedules", required=True):
        m = f.mapping(entry, "schedules", SCHEDULE_KEYS, ("form", "every"))
        if m is None:
            continue
        every = f.choice(m, "every", SCHEDULE_EVERY)
        form = f.text(m, "form")
        times: dict[str, tuple[str, ...]] = {}
        lines = dict(m.key_lines)
        times_node = m.items.get("times")
        if times_node is not None:
            tm = f.mapping(times_node, "times", list(times_node.items) if isinstance(times_node, Mapping) else ())
            for shift in (tm.items if tm else {}):
                times[shift] = tuple(_times(f, tm, shift))
                lines[f"times.{shift}"] = tm.key_lines[shift]
        time = f.time(m, "time") or ""
        if every == "shift" and not times:
            f.problem(m.line, "missing", field="times")
        if every in ("day", "week", "month") and not time:
            f.problem(m.line, "missing", field="time")
        weekday = f.choice(m, "weekday", WEEKDAYS, required=(every == "week"))
        day = f.integer(m, "day", required=(every == "month"))
        if day is not None and not 1 <= day <= 28:
            f.problem(f.line(m, "day"), "int-range", field="day", value=day, low=1, high=28)
            day = None
        grace = f.integer(m, "grace_minutes") or 0
        if not 0 <= grace <= MAX_GRACE:
            f.problem(f.line(m, "grace_minutes"), "int-range", field="grace_minutes", value=grace, low=0,
                      high=MAX_GRACE)
            grace = 0
        if form is None or every is None:
            continue
        schedules.append(Schedule(form, every, m.line, times, time, WEEKDAYS.index(weekday) if weekday else 0,
                                  day or 1, f.boolean(m, "per_area"), grace, _refs(f, m), lines,
                                  tuple(v for v, _ in f.text_list(m, "grace_ref", single_ok=True))))
    return schedules


def _times(f: Fields, m: Mapping, key: str) -> list[str]:
    out = []
    for value, line in f.text_list(m, key, required=True, single_ok=True):
        if re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            out.append(value)
        else:
            f.problem(line, "bad-time", field=key, value=value)
    return out


def read_handover(node: Node | None, path: str, problems: list[Problem]) -> HandoverRules | None:
    f = Fields(path, problems)
    m = f.mapping(node, "handover.yaml", HANDOVER_KEYS, ("form", "blocking", "outgoing", "incoming"))
    if m is None:
        return None
    blocking = []
    for entry in f.sequence(m, "blocking", required=True):
        b = f.mapping(entry, "blocking", ("item", "ref"), ("item",))
        if b is not None and (item := f.text(b, "item")):
            blocking.append(Blocking(item, b.line, _refs(f, b)))
    carry = []
    for entry in f.sequence(m, "carry_over"):
        c = f.mapping(entry, "carry_over", ("item", "label", "text", "open_when", "ref"), ("item", "label"))
        if c is None or not (item := f.text(c, "item")):
            continue
        open_when: dict[str, str] = {}
        if "open_when" in c.items:
            ow = f.mapping(c.items["open_when"], "open_when",
                           list(c.items["open_when"].items) if isinstance(c.items["open_when"], Mapping) else ())
            open_when = {k: f.text(ow, k) or "" for k in (ow.items if ow else {})}
        carry.append(CarryOver(item, f.text(c, "label") or "", c.line, f.text(c, "text", False) or "", open_when,
                               _refs(f, c)))
    takeover = None
    if "takeover" in m.items:
        t = f.mapping(m.items["takeover"], "takeover", ("by", "conditions", "ref"), ("by", "conditions"))
        by = f.choice(t, "by", TAKEOVER_BY) if t is not None else None
        if t is not None and by is not None:
            takeover = Takeover(by, tuple(v for v, _ in f.text_list(t, "conditions", required=True)), t.line,
                                _refs(f, t), dict(t.key_lines))
    return HandoverRules(f.text(m, "form") or "", f.text(m, "outgoing") or "", f.text(m, "incoming") or "",
                         blocking, carry, takeover, f.boolean(m, "open_corrective_actions", True),
                         _refs(f, m), path, m.line, f.text(m, "incoming_sign", False) or "")


def read_workflows(node: Node | None, path: str, problems: list[Problem]) -> tuple[list[Workflow], list[SpotCheck]]:
    f = Fields(path, problems)
    top = f.mapping(node, "workflows.yaml", ("workflows", "spot_checks"), ("workflows",))
    if top is None:
        return [], []
    workflows: list[Workflow] = []
    seen: dict[str, int] = {}
    for entry in f.sequence(top, "workflows", required=True):
        m = f.mapping(entry, "workflows", WORKFLOW_KEYS, ("id", "title", "owner", "steps"))
        if m is None:
            continue
        workflow_id = f.ident(m, "id", WORKFLOW_ID, "complaint")
        owner = f.choice(m, "owner", OWNERS)
        own_fields: list[Item] = []
        field_ids: dict[str, int] = {}
        for item_node in f.sequence(m, "fields"):
            item = _item(f, item_node, "fields", field_ids, "")
            if item is not None and item.show_when is not None:  # each step says which fields it asks for
                f.problem(item.show_when.line, "form-condition",
                          detail="流程自己的字段不能有 show_when,由步骤的 fields 决定填写哪些")
                item.show_when = None
            if item is not None:
                own_fields.append(item)
        steps = [s for s in (_step(f, s_node) for s_node in f.sequence(m, "steps", required=True)) if s]
        if len(steps) < 2 and m.items.get("steps") is not None:
            f.problem(f.line(m, "steps"), "workflow-steps", id=workflow_id or "", detail="至少要有两个步骤")
        step_ids: dict[str, int] = {}
        for step in steps:
            if step.id in step_ids:
                f.problem(step.line, "duplicate-id", id=step.id, other=f"第 {step_ids[step.id]} 行")
            step_ids[step.id] = step.line
        for step in steps:
            if step.due and step.due.start not in step_ids:
                f.problem(step.lines.get("due", step.line), "dangling-ref", what="步骤", ref=step.due.start,
                          hint=did_you_mean(step.due.start, step_ids))
        if workflow_id is None or owner is None:
            continue
        if workflow_id in seen:
            f.problem(f.line(m, "id"), "duplicate-id", id=workflow_id, other=f"第 {seen[workflow_id]} 行")
            continue
        seen[workflow_id] = f.line(m, "id")
        workflows.append(Workflow(workflow_id, f.text(m, "title") or "", owner, steps, path, m.line,
                                  f.text(m, "form", False) or "", own_fields, _refs(f, m)))
    spot_checks = []
    for entry in f.sequence(top, "spot_checks"):
        m = f.mapping(entry, "spot_checks", ("form", "percent", "show", "ref"), ("form", "percent"))
        if m is None:
            continue
        percent = f.integer(m, "percent", required=True)
        if percent is not None and not 1 <= percent <= 100:
            f.problem(f.line(m, "percent"), "int-range", field="percent", value=percent, low=1, high=100)
            percent = None
        if (form := f.text(m, "form")) and percent:
            spot_checks.append(SpotCheck(form, percent, m.line, _refs(f, m),
                                         tuple(v for v, _ in f.text_list(m, "show")), dict(m.key_lines)))
    return workflows, spot_checks


def _step(f: Fields, node: Node) -> Step | None:
    m = f.mapping(node, "steps", STEP_KEYS, ("id", "name"))
    if m is None:
        return None
    step_id = f.ident(m, "id", ITEM_ID, "replied")
    by = f.choice(m, "by", STEP_BY, required=False, default="owner")
    due = None
    if "due" in m.items:
        d = f.mapping(m.items["due"], "due", ("from", "hours", "days", "ref"), ("from",))
        if d is not None:
            hours, days = f.integer(d, "hours"), f.integer(d, "days")
            if (hours is None) == (days is None):
                f.problem(d.line, "workflow-due", detail="hours 与 days 须写且只写一个")
            total = hours if hours is not None else (days or 1) * 24
            if total is not None and not 0 < total <= 24 * 366:
                f.problem(d.line, "int-range", field="hours", value=total, low=1, high=24 * 366)
                total = 24
            due = Due(f.text(d, "from") or "", total or 24, _refs(f, d), hours is None and days is not None)
    if step_id is None:
        return None
    return Step(step_id, f.text(m, "name") or "", m.line, by or "owner",
                [v for v, _ in f.text_list(m, "fields")], [v for v, _ in f.text_list(m, "required")],
                f.text(m, "stamp", False) or "", f.text(m, "person", False) or "", due, _refs(f, m),
                dict(m.key_lines))


def read_report(node: Node | None, path: str, problems: list[Problem]) -> MonthlyReport | None:
    f = Fields(path, problems)
    top = f.mapping(node, "reports.yaml", ("monthly",), ("monthly",))
    if top is None:
        return None
    m = f.mapping(top.items.get("monthly"), "monthly", ("title", "ref", "figures", "schedules", "penalties"),
                  ("title", "figures"), top.line)
    if m is None:
        return None
    figures = []
    seen: dict[str, int] = {}
    for entry in f.sequence(m, "figures", required=True):
        fm = f.mapping(entry, "figures", FIGURE_KEYS, ("id", "label"))
        if fm is None:
            continue
        figure_id = f.ident(fm, "id", ITEM_ID, "visits")
        sums = _form_items(f, fm, "sum")
        rates = _form_items(f, fm, "rate")
        count = f.text(fm, "count", False) or ""
        score = f.text(fm, "score", False) or ""
        if sum(map(bool, (count, sums, rates, score))) != 1:
            f.problem(fm.line, "report-figure", id=figure_id or "")
        if figure_id is None:
            continue
        if figure_id in seen:
            f.problem(f.line(fm, "id"), "duplicate-id", id=figure_id, other=f"第 {seen[figure_id]} 行")
        seen[figure_id] = f.line(fm, "id")
        figures.append(Figure(figure_id, f.text(fm, "label") or "", f.text(fm, "unit", False) or "", fm.line,
                              count, tuple(sums), tuple(rates), tuple(v for v, _ in f.text_list(fm, "good")),
                              f.text(fm, "person", False) or "", dict(fm.key_lines), score=score))
    return MonthlyReport(f.text(m, "title") or "", figures, f.boolean(m, "schedules", True),
                         f.text(m, "penalties", False) or "", _refs(f, m), path, m.line,
                         dict(m.key_lines))


def _form_items(f: Fields, m: Mapping, key: str) -> list[tuple[str, str]]:
    out = []
    for value, line in f.text_list(m, key, single_ok=True):
        match = FORM_ITEM.fullmatch(value)
        if match:
            out.append((match[1], match[2]))
        else:
            f.problem(line, "bad-id", field=key, value=value, pattern="service-report.satisfaction")
    return out


def read_notifications(node: Node | None, path: str, problems: list[Problem]) -> NotifyRules | None:
    """notifications.yaml: `channels` (the default of every event) and `events`, one per kind of event (a
    case_due may be given per workflow). Minutes are whole numbers within a month."""
    f = Fields(path, problems)
    top = f.mapping(node, "notifications.yaml", ("channels", "stale_after_minutes", "events"), ("events",))
    if top is None:
        return None
    defaults = _channels(f, top) or ("inbox",)
    default_stale = _minutes(f, top, "stale_after_minutes")
    rules: list[NotifyRule] = []
    seen: dict[tuple[str, str], int] = {}
    for entry in f.sequence(top, "events", required=True):
        m = f.mapping(entry, "events", NOTIFY_KEYS, ("event",))
        if m is None:
            continue
        event = f.choice(m, "event", NOTIFY_EVENTS)
        workflow = f.ident(m, "workflow", WORKFLOW_ID, "complaint", required=False) or ""
        if workflow and event not in (None, "case_due"):
            f.problem(f.line(m, "workflow"), "notify-workflow", event=event)
        lead = _minutes(f, m, "lead_minutes")
        escalate = _minutes(f, m, "escalate_after_minutes")
        stale = _minutes(f, m, "stale_after_minutes")
        if event is None:
            continue
        if (event, workflow) in seen:
            other = f"第 {seen[(event, workflow)]} 行"
            f.problem(m.line, "duplicate-id", id=f"{event} {workflow}".strip(), other=other)
            continue
        seen[(event, workflow)] = m.line
        rules.append(NotifyRule(event, m.line, workflow, lead or 0, escalate,
                                stale if stale is not None else default_stale if default_stale is not None else 120,
                                _channels(f, m) or defaults, _refs(f, m), dict(m.key_lines)))
    return NotifyRules(rules, defaults, path, top.line)


def _minutes(f: Fields, m: Mapping, key: str) -> int | None:
    value = f.integer(m, key)
    if value is not None and not 0 <= value <= MAX_NOTIFY_MINUTES:
        f.problem(f.line(m, key), "int-range", field=key, value=value, low=0, high=MAX_NOTIFY_MINUTES)
        return None
    return value


def _channels(f: Fields, m: Mapping) -> tuple[str, ...]:
    out = []
    for value, line in f.text_list(m, "channels", single_ok=True):
        if value in NOTIFY_CHANNELS:
            out.append(value)
        else:
            f.problem(line, "bad-choice", field="channels", value=value, hint=did_you_mean(value, NOTIFY_CHANNELS),
                      allowed="、".join(NOTIFY_CHANNELS))
    return tuple(dict.fromkeys(out))


# -- checks against the rest of the handbook ----------------------------------------------------------


class _Check:
    def __init__(self, hb: Handbook, problems: list[Problem]):
        self.hb = hb
        self.problems = problems
        self.forms = {form.id: form for form in hb.forms}

    def problem(self, path: str, line: int, code: str, **values: object) -> None:
        self.problems.append(make_problem(path, line, code, **values))

    def form(self, path: str, line: int, form_id: str) -> Form | None:
        form = self.forms.get(form_id)
        if form is None:
            self.problem(path, line, "dangling-ref", what="表单", ref=form_id, hint=did_you_mean(form_id, self.forms))
        return form

    def item(self, path: str, line: int, form: Form, item_id: str, kinds: tuple[str, ...] = ()) -> Item | None:
        items = {i.id: i for i in form.all_items()}
        item = items.get(item_id)
        if item is None:
            self.problem(path, line, "dangling-ref", what=f"表单 {form.id} 的项目", ref=item_id,
                         hint=did_you_mean(item_id, items))
        elif kinds and item.kind not in kinds:
            self.problem(path, line, "rules-item-kind", id=item_id, kind=ITEM_KINDS[item.kind].label,
                         allowed="、".join(ITEM_KINDS[k].label for k in kinds))
            return None
        return item

    def refs(self, path: str, line: int, refs: tuple[str, ...]) -> None:
        for ref in refs:
            if ref not in self.hb.clauses:
                self.problem(path, line, "dangling-ref", what="条款", ref=ref, hint=did_you_mean(ref, self.hb.clauses))


def check_rules(hb: Handbook, rules: Rules, paths: dict[str, str], problems: list[Problem]) -> None:
    """Every form, item, shift, step and clause the rules name exists and has the right kind."""
    c = _Check(hb, problems)
    path = paths.get("schedules", "")
    for s in rules.schedules:
        c.refs(path, s.lines.get("ref", s.line), s.refs)
        c.refs(path, s.lines.get("grace_ref", s.line), s.grace_refs)
        form = c.form(path, s.lines.get("form", s.line), s.form)
        for shift in s.times:
            if shift not in hb.organisation.shifts:
                c.problem(path, s.lines[f"times.{shift}"], "dangling-ref", what="班次", ref=shift,
                          hint=did_you_mean(shift, hb.organisation.shifts))
        if form is not None and s.per_area:
            c.item(path, s.line, form, "area", ("choice",))
        if form is not None and s.every in ("shift", "shift_change"):
            c.item(path, s.line, form, "shift", ("choice",))
    if (h := rules.handover) is not None:
        c.refs(h.path, h.line, h.refs)
        form = c.form(h.path, h.line, h.form)
        if form is not None:
            c.item(h.path, h.line, form, h.outgoing, ("person",))
            c.item(h.path, h.line, form, h.incoming, ("person",))
            if h.incoming_sign:
                c.item(h.path, h.line, form, h.incoming_sign, ("signature",))
            for b in h.blocking:
                c.refs(h.path, b.line, b.refs)
                c.item(h.path, b.line, form, b.item, ("yesno",))
        if (t := h.takeover) is not None:
            c.refs(h.path, t.lines.get("ref", t.line), t.refs)
            blocking = {b.item for b in h.blocking}
            for item_id in t.conditions:
                if item_id not in blocking:
                    c.problem(h.path, t.lines.get("conditions", t.line), "dangling-ref", what="不得交接班的情形",
                              ref=item_id, hint=did_you_mean(item_id, blocking))
            for co in h.carry_over:
                c.refs(h.path, co.line, co.refs)
                item = c.item(h.path, co.line, form, co.item, ("text", "textarea", "table"))
                if item is not None and item.kind == "table":
                    columns = {col.id for col in item.columns}
                    for column in [co.text, *co.open_when]:
                        if column not in columns:
                            c.problem(h.path, co.line, "dangling-ref", what=f"登记表 {item.id} 的列", ref=column,
                                      hint=did_you_mean(column, columns))
    path = paths.get("workflows", "")
    for w in rules.workflows:
        c.refs(w.path, w.line, w.refs)
        form = c.form(w.path, w.line, w.form) if w.form else None
        if not w.form and not w.fields:
            c.problem(w.path, w.line, "workflow-steps", id=w.id, detail="没有 form 的流程须用 fields 定义自己的项目")
        own = {i.id: i for i in w.fields}
        for step in w.steps:
            at = step.lines.get
            c.refs(w.path, at("ref", step.line), step.refs)
            if step.due:
                c.refs(w.path, at("due", step.line), step.due.refs)
            for key in ("fields", "required"):
                for item_id in getattr(step, key):
                    if form is not None:
                        c.item(w.path, at(key, step.line), form, item_id)
                    elif item_id not in own:
                        c.problem(w.path, at(key, step.line), "dangling-ref", what=f"流程 {w.id} 的项目", ref=item_id,
                                  hint=did_you_mean(item_id, own))
            for item_id in step.required:
                if item_id not in step.fields:
                    c.problem(w.path, at("required", step.line), "workflow-steps", id=w.id,
                              detail=f"步骤 “{step.id}” 的必填项目 “{item_id}” 不在 fields 中")
            if form is not None and step.stamp:
                c.item(w.path, at("stamp", step.line), form, step.stamp, ("datetime",))
            if form is not None and step.person:
                c.item(w.path, at("person", step.line), form, step.person, ("person",))
        if w.steps and w.steps[0].fields:
            c.problem(w.path, w.steps[0].line, "workflow-steps", id=w.id,
                      detail="第一步是流程的开启(提交表单或发现异常),不能有 fields")
    for sc in rules.spot_checks:
        c.refs(path, sc.lines.get("ref", sc.line), sc.refs)
        if (form := c.form(path, sc.lines.get("form", sc.line), sc.form)) is not None:
            for item_id in sc.show:
                c.item(path, sc.lines.get("show", sc.line), form, item_id)
    if (r := rules.report) is not None:
        c.refs(r.path, r.lines.get("ref", r.line), r.refs)
        penalty_tables = {t.id for t in hb.tables.values() if t.kind == "penalties"}
        if r.penalties and r.penalties not in penalty_tables:
            c.problem(r.path, r.lines.get("penalties", r.line), "dangling-ref", what="处罚表", ref=r.penalties,
                      hint=did_you_mean(r.penalties, penalty_tables))
        for fig in r.figures:
            at = fig.lines.get
            if fig.count and (form := c.form(r.path, at("count", fig.line), fig.count)) and fig.person:
                c.item(r.path, at("person", fig.line), form, fig.person, ("person",))
            if fig.score and (form := c.form(r.path, at("score", fig.line), fig.score)) and form.score is None:
                c.problem(r.path, at("score", fig.line), "report-score", form=fig.score)
            for form_id, item_id in fig.sum:
                if form := c.form(r.path, at("sum", fig.line), form_id):
                    c.item(r.path, at("sum", fig.line), form, item_id, ("number",))
            for form_id, item_id in fig.rate:
                if form := c.form(r.path, at("rate", fig.line), form_id):
                    item = c.item(r.path, at("rate", fig.line), form, item_id, ("choice",))
                    for good in fig.good:
                        if item is not None and good not in item.options:
                            c.problem(r.path, at("good", fig.line), "bad-choice", field="good", value=good,
                                      hint=f"(表单 {form_id} 的 {item_id} 没有这个选项)",
                                      allowed="、".join(item.options))
    if (n := rules.notifications) is not None:
        _check_notifications(c, rules, n, workflows_broken="workflows" in paths and not rules.workflows)
    check_permits(hb, rules, paths, problems)
    forms_with_flows = [w.form for w in rules.workflows if w.form]
    for form_id in set(forms_with_flows):
        if forms_with_flows.count(form_id) > 1:
            c.problem(paths.get("workflows", ""), 1, "duplicate-id", id=form_id, other="另一个流程的 form")



def _check_notifications(c: _Check, rules: Rules, n: NotifyRules, workflows_broken: bool) -> None:
    """A case_due rule names a flow with a step that has a deadline: the deadline reminded of is the one the
    flow cites (a reminder relaxes nothing, so its own minutes need no permit; `ref` says what it serves).
    Flows are not looked for in a workflows.yaml that could not be read (its own problem says why)."""
    for rule in n.rules:
        c.refs(n.path, rule.lines.get("ref", rule.line), rule.refs)
        if not rule.workflow or workflows_broken:
            continue
        flow = rules.workflow(rule.workflow)
        if flow is None:
            c.problem(n.path, rule.lines.get("workflow", rule.line), "dangling-ref", what="流程", ref=rule.workflow,
                      hint=did_you_mean(rule.workflow, {w.id for w in rules.workflows}))
        elif not any(step.due for step in flow.steps):
            c.problem(n.path, rule.lines.get("workflow", rule.line), "notify-workflow-due", workflow=flow.id)
