"""The page of one regulation: document control, clauses with anchors and citations, tables, history."""

from __future__ import annotations

import html

from .model import (
    FREQUENCIES,
    Citation,
    ClauseBlock,
    DeadlineRow,
    DutyRow,
    Handbook,
    Heading,
    MeetingRow,
    PenaltyRow,
    Prose,
    Regulation,
    ServiceHoursRow,
    Table,
    TableBlock,
)
from .render import TextRenderer, cell, clause_link, form_page, link, regulation_page

CITATION_LABELS = {"form": "表单", "item": "表单项目", "question": "测验题", "clause": "条款", "row": "表格"}


def render_regulation(hb: Handbook, reg: Regulation) -> str:
    page = regulation_page(reg.id)
    text = TextRenderer(hb, page)
    # Regulations are what people search for; forms and indexes that quote them rank below.
    out = ["---", "search:", "  boost: 2", "---", "", f"# {reg.id} {reg.title}", ""]
    if reg.summary:
        out += [f'<p class="reg-summary">{html.escape(text.plain(reg.summary))}</p>', ""]
    out += document_control(hb, reg)
    for block in reg.blocks:
        if isinstance(block, Heading):
            out += [f"{'#' * block.level} {text.plain(block.title)}", ""]
        elif isinstance(block, Prose):
            out += [text(block.text), ""]
        elif isinstance(block, ClauseBlock):
            out += render_clause(hb, page, text, block.clause_id)
        elif isinstance(block, TableBlock) and block.table_id in hb.tables:
            out += render_table(hb, page, hb.tables[block.table_id])
    out += revision_history(reg, text)
    return "\n".join(out) + "\n"


def document_control(hb: Handbook, reg: Regulation) -> list[str]:
    org = hb.organisation
    roles = "、".join(org.roles[r].name for r in reg.applies_to if r in org.roles)
    department = org.departments[reg.department].name if reg.department in org.departments else reg.department
    rows = [
        ("文件编号", reg.number), ("版本", reg.revision), ("制订部门", department),
        ("发行日期", reg.effective.isoformat()), ("批准人", reg.approver), ("适用岗位", roles),
    ]
    out = ['<div class="doc-control" markdown>', "", "| 文件控制 | |", "| --- | --- |"]
    out += [f"| {name} | {cell(value)} |" for name, value in rows]
    return [*out, "", "</div>", ""]


def render_clause(hb: Handbook, page: str, text: TextRenderer, clause_id: str) -> list[str]:
    clause = hb.clauses[clause_id]
    body = text(clause.text)
    out = [
        f'<div class="clause" id="{clause_id}" markdown>',
        "",
        f'<a class="clause-id" href="#{clause_id}" title="复制本条链接">{clause_id}</a> {body}',
        "",
    ]
    out += cited_by(hb, page, hb.citations.get(clause_id, []))
    return [*out, "</div>", ""]


def cited_by(hb: Handbook, page: str, citations: list[Citation]) -> list[str]:
    """A '引用本条' line of Markdown links, so MkDocs checks every one of them."""
    if not citations:
        return []
    links = []
    for citation in citations:
        kind = CITATION_LABELS[citation.kind]
        label = cell(citation.label).replace("[", "【").replace("]", "】")
        if citation.kind in ("form", "item"):
            anchor = f"item-{citation.detail}" if citation.detail else ""
            links.append(f"[{kind}:{label}]({link(page, form_page(citation.source_id), anchor)})")
        elif citation.kind in ("clause", "row"):
            links.append(f"[{kind} {citation.source_id}]({clause_link(hb, page, citation.source_id)})")
        else:
            links.append(f"{kind} {citation.source_id}")
    return [f"引用本条:{' · '.join(links)}", "{: .cited-by }", ""]


def render_table(hb: Handbook, page: str, table: Table) -> list[str]:
    columns, cells = TABLE_COLUMNS[table.kind]
    text = TextRenderer(hb, page)
    out = [f"**{table.title}**", ""]
    if table.description:
        out += [text(table.description), ""]
    out += ["| 条款 | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for row in table.rows:
        values = [cell(text.plain(v)) for v in cells(hb, row)]
        refs = row.refs()
        if refs and table.kind in ("penalties", "deadlines"):  # the last column lists clause ids: link them
            values[-1] = " ".join(f"[{r}]({clause_link(hb, page, r)})" if r in hb.clauses else r for r in refs)
        target = clause_link(hb, page, row.id)  # on the regulation's own page, the row itself
        out.append(f"| [{row.id}]({target}){{#{row.id} .clause-id}} | " + " | ".join(values) + " |")
    return [*out, ""]


def _role(hb: Handbook, role_id: str) -> str:
    role = hb.organisation.roles.get(role_id)
    return role.name if role else role_id


def _penalty_cells(hb: Handbook, row: PenaltyRow) -> list[str]:
    return [row.offence, row.condition, "、".join(row.sanctions), row.fine_text, " ".join(row.violates)]


def _duty_cells(hb: Handbook, row: DutyRow) -> list[str]:
    department = hb.organisation.departments.get(row.department)
    return [_role(hb, row.role), department.name if department else "", row.duty]


def _meeting_cells(hb: Handbook, row: MeetingRow) -> list[str]:
    when = " ".join(x for x in (FREQUENCIES[row.frequency], row.weekday, row.time) if x)
    attendees = "、".join(_role(hb, r) for r in row.attendees)
    form = next((f.title for f in hb.forms if f.id == row.form), "")
    return [row.name, when, _role(hb, row.chair), attendees, row.purpose, form]


def _hours_cells(hb: Handbook, row: ServiceHoursRow) -> list[str]:
    span = f"{row.time_from}–{row.time_to}" if row.time_from and row.time_to else ""
    return [row.service, row.hours, row.days, span, row.note]


def _deadline_cells(hb: Handbook, row: DeadlineRow) -> list[str]:
    return [row.what, row.limit, row.note, " ".join(row.refs_)]


TABLE_COLUMNS = {
    "penalties": (("违规行为", "条件", "处理", "罚款", "违反条款"), _penalty_cells),
    "duties": (("岗位", "部门", "职责"), _duty_cells),
    "meetings": (("会议", "时间", "主持", "参加人员", "内容", "记录表"), _meeting_cells),
    "service_hours": (("服务", "服务时段", "日期", "时间", "说明"), _hours_cells),
    "deadlines": (("事项", "时限", "说明", "依据条款"), _deadline_cells),
}


def revision_history(reg: Regulation, text: TextRenderer) -> list[str]:
    out = ["## 修订记录", "", "| 版本 | 日期 | 修订人 | 说明 |", "| --- | --- | --- | --- |"]
    for rev in reversed(reg.revisions):
        out.append(f"| {cell(rev.revision)} | {rev.date.isoformat()} | {cell(rev.author)} | "
                   f"{cell(text.plain(rev.summary))} |")
    out.append("")
    decisions = [text.plain(d) for rev in reg.revisions for d in rev.decisions]
    if decisions:
        out += ['??? note "合并与取舍说明"', ""]
        out += [f"    - {d}" for d in decisions]
        out.append("")
    out += [f'<p class="sources">来源文件:{"、".join(html.escape(s) for s in reg.sources)}</p>', ""]
    return out
