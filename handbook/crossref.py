"""Checks that span files: unique ids, references that resolve, tables placed once; and the
citation index (which form items, questions and clauses cite each clause)."""

from __future__ import annotations

from collections import defaultdict

from .body import PLACEHOLDER, REFERENCE
from .model import Citation, Clause, Handbook, Prose, TableBlock
from .problems import Problem, did_you_mean, make_problem


class _Checker:
    def __init__(self, hb: Handbook, problems: list[Problem]):
        self.hb = hb
        self.problems = problems
        self.form_ids = {f.id for f in hb.forms}
        self.role_ids = set(hb.organisation.roles)
        self.department_ids = set(hb.organisation.departments)

    def problem(self, path: str, line: int, code: str, **values: object) -> None:
        self.problems.append(make_problem(path, line, code, **values))

    def dangling(self, path: str, line: int, what: str, ref: str, known: set[str] | dict) -> None:
        self.problem(path, line, "dangling-ref", what=what, ref=ref, hint=did_you_mean(ref, known))

    def clause_ref(self, path: str, line: int, ref: str) -> bool:
        if ref in self.hb.clauses:
            return True
        self.dangling(path, line, "条款", ref, self.hb.clauses)
        return False

    def roles(self, path: str, line: int, roles: list[str] | tuple[str, ...]) -> None:
        for role in roles:
            if role not in self.role_ids:
                self.dangling(path, line, "岗位", role, self.role_ids)


def check_and_index(hb: Handbook, problems: list[Problem]) -> None:
    """Record every cross-file problem and fill `hb.citations`."""
    c = _Checker(hb, problems)
    citations: dict[str, list[Citation]] = defaultdict(list)
    _check_regulations(c, citations)
    _check_tables(c, citations)
    for question in hb.questions:
        for ref in question.refs:
            if c.clause_ref(question.path, question.lines.get("refs", question.line), ref):
                citations[ref].append(Citation("question", question.id, question.question))
        if not any(r.id == question.regulation_id for r in hb.regulations):
            c.dangling(question.path, question.line, "制度", question.regulation_id,
                       {r.id for r in hb.regulations})
    seen_questions: dict[str, str] = {}
    for question in hb.questions:
        if question.id in seen_questions:
            c.problem(question.path, question.line, "duplicate-id", id=question.id,
                      other=seen_questions[question.id])
        seen_questions[question.id] = f"{question.path}:{question.line}"
    for path in hb.paths:
        c.roles(path.path, path.line, path.roles)
        for reg in path.regulations:
            if not any(r.id == reg for r in hb.regulations):
                c.dangling(path.path, path.line, "制度", reg, {r.id for r in hb.regulations})
    _check_forms(c, citations)
    hb.citations = dict(citations)


def _check_regulations(c: _Checker, citations: dict[str, list[Citation]]) -> None:
    hb = c.hb
    topics = {t.id for t in hb.topics}
    placeholders = hb.organisation.placeholders()
    seen: dict[str, str] = {}
    placed: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for reg in hb.regulations:
        if reg.id in seen:
            c.problem(reg.path, 1, "duplicate-id", id=reg.id, other=seen[reg.id])
        seen[reg.id] = reg.path
        if reg.topic and reg.topic not in topics:
            c.dangling(reg.path, reg.lines.get("topic", 1), "主题", reg.topic, topics)
        if reg.department and reg.department not in c.department_ids:
            c.dangling(reg.path, reg.lines.get("department", 1), "部门", reg.department, c.department_ids)
        c.roles(reg.path, reg.lines.get("applies_to", 1), reg.applies_to)
        front_texts = [reg.summary] + [t for rev in reg.revisions for t in (rev.summary, *rev.decisions)]
        for front_text in front_texts:
            _check_placeholders(c, reg.path, 1, front_text, placeholders)
        for block in reg.blocks:
            if isinstance(block, TableBlock):
                placed[block.table_id].append((reg.id, reg.path, block.line))
        for clause_id in reg.clause_ids:
            clause = hb.clauses.get(clause_id)
            if clause is not None and clause.path == reg.path:
                _check_text(c, clause, placeholders, citations)
        for block in reg.blocks:
            if isinstance(block, Prose):
                for offset, line_text in enumerate(block.text.split("\n")):
                    _check_placeholders(c, reg.path, block.line + offset, line_text, placeholders)
    for table_id, table in hb.tables.items():
        places = placed.get(table_id, [])
        if len(places) != 1 or places[0][0] != table.regulation_id:
            detail = "没有放入制度正文" if not places else f"放置了 {len(places)} 次或放在了别的制度中"
            c.problem(table.path, table.line, "table-placement", table=table_id, detail=detail,
                      reg=table.regulation_id)
    for table_id, places in placed.items():
        if table_id not in hb.tables:
            for _, path, line in places:
                c.dangling(path, line, "表格", table_id, hb.tables)


def _check_placeholders(c: _Checker, path: str, line: int, text: str, placeholders: dict[str, str]) -> None:
    for m in PLACEHOLDER.finditer(text):
        if m["name"] not in placeholders:
            c.problem(path, line, "placeholder", name=m["name"], hint=did_you_mean(m["name"], placeholders))


def _check_text(c: _Checker, clause: Clause, placeholders: dict[str, str],
                citations: dict[str, list[Citation]]) -> None:
    for offset, line_text in enumerate(clause.text.split("\n")):
        line = clause.line + offset
        _check_placeholders(c, clause.path, line, line_text, placeholders)
        for m in REFERENCE.finditer(line_text):
            target = m["target"].strip()
            if target.startswith("form:"):
                form_id = target[5:]
                if form_id not in c.form_ids:
                    c.dangling(clause.path, line, "表单", form_id, c.form_ids)
            elif target.startswith("table:"):
                c.dangling(clause.path, line, "引用写法", target, {"表格须单独成行"})
            elif c.clause_ref(clause.path, line, target) and target != clause.id:
                citations[target].append(Citation("clause", clause.id, clause.id))


def _check_tables(c: _Checker, citations: dict[str, list[Citation]]) -> None:
    for table in c.hb.tables.values():
        for row in table.rows:
            for ref in row.refs():
                if c.clause_ref(table.path, row.line, ref):
                    citations[ref].append(Citation("row", row.id, row.summary()))
            role = getattr(row, "role", "") or getattr(row, "chair", "")
            if role:
                c.roles(table.path, row.line, [role])
            c.roles(table.path, row.line, getattr(row, "attendees", ()))
            department = getattr(row, "department", "")
            if department and department not in c.department_ids:
                c.dangling(table.path, row.line, "部门", department, c.department_ids)
            form = getattr(row, "form", "")
            if form and form not in c.form_ids:
                c.dangling(table.path, row.line, "表单", form, c.form_ids)


def _check_forms(c: _Checker, citations: dict[str, list[Citation]]) -> None:
    for form in c.hb.forms:
        for ref in form.serves:
            if c.clause_ref(form.path, form.lines.get("serves", form.line), ref):
                citations[ref].append(Citation("form", form.id, form.title))
        c.roles(form.path, form.lines.get("roles", form.line), form.roles)
        for section in form.sections:
            for ref in section.refs:
                if c.clause_ref(form.path, section.line, ref):
                    citations[ref].append(Citation("item", form.id, f"{form.title} · {section.title}"))
        for item in form.all_items():
            for ref in item.refs:
                if c.clause_ref(form.path, item.line, ref):
                    citations[ref].append(Citation("item", form.id, f"{form.title} · {item.label}", item.id))
