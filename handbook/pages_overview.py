"""Pages that look across regulations: home, clause index, penalties, roles, revisions, forms, coverage."""

from __future__ import annotations

from .conditions import instruction
from .formmodel import Form, Item
from .kinds import ITEM_KINDS
from .model import Handbook
from .pages_operations import form_operations
from .pages_regulation import render_table
from .render import TextRenderer, cell, clause_link, form_page, link, regulation_page
from .scores import rule_text
from .site_downloads import book_path, book_roles, html_path, pdf_path

RECENT_REVISIONS = 10
# Index pages repeat every clause's words: searching them would bury the clause itself.
NOT_SEARCHED = ["---", "search:", "  exclude: true", "---", ""]


def home(hb: Handbook, books: bool = False) -> str:
    page = "index.md"
    org = hb.organisation
    out = [f"# {org.name} · 客服制度手册", "",
           f"本手册收录{org.company}{org.name}的全部管理制度,共 {len(hb.regulations)} 项制度、"
           f"{len(hb.clauses)} 个条款。每个条款都有固定编号(如 `KF-11.4`),可以直接引用和链接。", "",
           "## 我该看什么", ""]
    out += [f"- [{role.name}]({link(page, f'roles/{role.id}.md')}):{role.description}"
            for role in org.roles.values()]
    out += ["", "## 按主题", ""]
    for topic in hb.topics:
        regs = [r for r in hb.regulations if r.topic == topic.id]
        if regs:
            links = "、".join(f"[{r.title}]({link(page, regulation_page(r.id))})" for r in regs)
            out.append(f"- **{topic.title}**:{links}")
    out += ["", "## 最近修订", "", "| 日期 | 制度 | 版本 | 说明 |", "| --- | --- | --- | --- |"]
    history = sorted(((rev, reg) for reg in hb.regulations for rev in reg.revisions),
                     key=lambda pair: (pair[0].date, pair[1].id), reverse=True)
    for rev, reg in history[:RECENT_REVISIONS]:
        out.append(f"| {rev.date.isoformat()} | [{reg.id} {reg.title}]({link(page, regulation_page(reg.id))}) | "
                   f"{cell(rev.revision)} | {cell(rev.summary)} |")
    out += ["", "## 速查", "",
            f"- [条款索引]({link(page, 'clauses.md')}):全部条款及其编号",
            f"- [处罚与罚款标准]({link(page, 'penalties.md')})",
            f"- [岗位与职责]({link(page, 'roles/index.md')})",
            f"- [表单与检查表]({link(page, 'forms/index.md')})",
            f"- [修订历史]({link(page, 'revisions.md')})", ""]
    if books:
        out += book_links(hb, page)
    return "\n".join(out)


def book_links(hb: Handbook, page: str) -> list[str]:
    """The 打印版员工手册 section: the whole printed handbook and one per role."""
    out = ["## 打印版员工手册", "",
           "新员工入职时领取的纸质手册(A4 PDF):封面、目录、各项制度及其文件控制表、条款索引和签收页。"
           "主管留存员工签字的签收页。", "",
           f"[下载完整员工手册 PDF]({link(page, book_path())}){{ .md-button }}", "", "按岗位:", ""]
    out += [f"- [{hb.organisation.roles[r].name}]({link(page, book_path(r))})"
            f"(收录 {sum(r in reg.applies_to for reg in hb.regulations)} 项制度)" for r in book_roles(hb)]
    return [*out, ""]


def clause_index(hb: Handbook) -> str:
    page = "clauses.md"
    text = TextRenderer(hb, page)
    out = [*NOT_SEARCHED, "# 条款索引", "", "全部条款按编号排列。点击编号跳到条款原文。", ""]
    for reg in hb.regulations:
        out += [f"## {reg.id} {reg.title}", "", "| 条款 | 章节 | 内容摘要 |", "| --- | --- | --- |"]
        ids = reg.clause_ids + [row.id for t in hb.tables.values() if t.regulation_id == reg.id for row in t.rows]
        for clause_id in sorted(ids, key=lambda c: hb.clauses[c].number):
            clause = hb.clauses[clause_id]
            excerpt = text.plain(clause.text).replace("\n", " ")
            excerpt = excerpt if len(excerpt) <= 60 else excerpt[:60] + "…"
            out.append(f"| [{clause_id}]({clause_link(hb, page, clause_id)}) | {cell(text.plain(clause.section))} | "
                       f"{cell(excerpt)} |")
        out.append("")
    return "\n".join(out)


def penalties(hb: Handbook) -> str:
    page = "penalties.md"
    out = ["# 处罚与罚款标准", "", "下表汇总全部处罚条款;每一行都是可引用的条款,点击编号查看所在制度。", ""]
    for table in hb.tables.values():
        if table.kind == "penalties":
            out += render_table(hb, page, table)
    return "\n".join(out)


def roles_index(hb: Handbook) -> str:
    page = "roles/index.md"
    out = ["# 岗位与职责", "", "| 岗位 | 说明 | 适用制度 |", "| --- | --- | --- |"]
    for role in hb.organisation.roles.values():
        count = sum(role.id in r.applies_to for r in hb.regulations)
        out.append(f"| [{role.name}]({link(page, f'roles/{role.id}.md')}) | {cell(role.description)} | {count} 项 |")
    out += ["", "## 部门", "", "| 部门 | 职能 |", "| --- | --- |"]
    out += [f"| {d.name} | {cell(d.description)} |" for d in hb.organisation.departments.values()]
    for table in hb.tables.values():
        if table.kind == "duties":
            out += ["", *render_table(hb, page, table)]
    return "\n".join(out) + "\n"


def role_page(hb: Handbook, role_id: str, books: bool = False) -> str:
    page = f"roles/{role_id}.md"
    role = hb.organisation.roles[role_id]
    text = TextRenderer(hb, page)
    out = [f"# {role.name}:我该遵守什么", "", role.description, ""]
    if books and role_id in book_roles(hb):
        out += [f"[下载本岗位员工手册 PDF]({link(page, book_path(role_id))}){{ .md-button }}", ""]
    out += ["## 适用的制度", ""]
    out += [f"- [{r.id} {r.title}]({link(page, regulation_page(r.id))}):{text.plain(r.summary)}"
            for r in hb.regulations if role_id in r.applies_to]
    duties = [row for t in hb.tables.values() if t.kind == "duties" for row in t.rows
              if getattr(row, "role", "") == role_id]
    if duties:
        out += ["", "## 岗位职责", ""]
        out += [f"- [{row.id}]({clause_link(hb, page, row.id)}) {text.plain(row.duty)}" for row in duties]
    meetings = [row for t in hb.tables.values() if t.kind == "meetings" for row in t.rows
                if role_id == getattr(row, "chair", "") or role_id in getattr(row, "attendees", ())]
    if meetings:
        out += ["", "## 需要参加的会议", ""]
        out += [f"- [{row.id}]({clause_link(hb, page, row.id)}) {text.plain(row.summary())}" for row in meetings]
    forms = [f for f in hb.forms if role_id in f.roles]
    if forms:
        out += ["", "## 需要填写的表单", ""]
        out += [f"- [{f.title}]({link(page, form_page(f.id))})({f.number})" for f in forms]
    return "\n".join(out) + "\n"


def revisions(hb: Handbook) -> str:
    page = "revisions.md"
    text = TextRenderer(hb, page)
    out = ["# 修订历史", "", "各项制度的全部修订记录,以及合并原有模板时所做的取舍。", ""]
    for reg in hb.regulations:
        out += [f"## [{reg.id} {reg.title}]({link(page, regulation_page(reg.id))})", ""]
        for rev in reversed(reg.revisions):
            out += [f"**{rev.revision}**({rev.date.isoformat()},{rev.author}):{text.plain(rev.summary)}", ""]
            out += [f"- {text.plain(d)}" for d in rev.decisions]
            out.append("")
    return "\n".join(out)


def forms_index(hb: Handbook) -> str:
    page = "forms/index.md"
    out = ["# 表单与检查表", "", "制度要求填写的全部表单。每张表单可在线填写,也可下载 PDF 打印。", "",
           "| 表单 | 编号 | 填写人 | 依据条款 |", "| --- | --- | --- | --- |"]
    for form in hb.forms:
        roles = "、".join(hb.organisation.roles[r].name for r in form.roles if r in hb.organisation.roles)
        serves = " ".join(f"[{c}]({clause_link(hb, page, c)})" for c in form.serves if c in hb.clauses)
        out.append(f"| [{form.title}]({link(page, form_page(form.id))}) | {form.number} | {roles} | {serves} |")
    out += ["", f"另见:[制度与表单对照]({link(page, 'forms/coverage.md')})。", ""]
    return "\n".join(out)


def form_page_markdown(hb: Handbook, form: Form, downloads: bool = False) -> str:
    page = form_page(form.id)
    out = [f"# {form.title}", "", f"表单编号 {form.number} · 版本 {form.revision}", ""]
    if downloads:
        out += [f"[下载 PDF(A4,打印填写)]({link(page, pdf_path(form.id))}){{ .md-button }} "
                f"[打印版网页]({link(page, html_path(form.id))}){{ .md-button }}", ""]
    if form.description:
        out += [TextRenderer(hb, page)(form.description), ""]
    serves = "、".join(f"[{c}]({clause_link(hb, page, c)})" for c in form.serves if c in hb.clauses)
    out += [f"依据条款:{serves}", ""]
    groups = [("表头", form.header, None)] + [(s.title, s.items, s.show_when) for s in form.sections] + [
        ("签字", form.signatures, None)]
    for title, items, show_when in groups:
        if not items:
            continue
        out += [f"## {title}", ""]
        if show_when:  # the words the paper form prints under the heading
            out += [f"*{instruction(show_when, form, '本栏')}*", ""]
        out += ["| 项目 | 类型 | 必填 | 依据条款 |", "| --- | --- | --- | --- |"]
        out += [_item_row(hb, page, item, form) for item in items]
        out.append("")
    if form.score is not None:  # the same words as under the paper form's signatures
        labels = {item.id: item.label for item in form.all_items()}
        counted = "、".join(labels[i] + (f"(×{w})" if w != 1 else "") for i, w in form.score.items)
        out += [f"## {form.score.label}", "", f"{rule_text(form)}。计分项目:{counted}。", ""]
    out += form_operations(hb, form)
    return "\n".join(out)


def _item_row(hb: Handbook, page: str, item: Item, form: Form) -> str:
    kind = ITEM_KINDS[item.kind].label
    if item.kind == "table":
        kind += ":" + "、".join(c.label for c in item.columns)
    elif item.kind == "choice":
        kind += ":" + " / ".join(item.options)
    refs = " ".join(f"[{r}]({clause_link(hb, page, r)})" for r in item.refs if r in hb.clauses)
    when = f"<br>{cell(instruction(item.show_when, form))}" if item.show_when else ""  # as on the paper form
    required = ("是(条件成立时)" if item.show_when else "是") if item.required else ""
    return f"| [{cell(item.label)}](#item-{item.id}){{#item-{item.id}}}{when} | {cell(kind)} | {required} | {refs} |"


def coverage(hb: Handbook) -> str:
    page = "forms/coverage.md"
    out = [*NOT_SEARCHED, "# 制度与表单对照", "",
           "逐条列出每个条款由哪张表单的哪一项落实。没有表单项目的条款靠培训、检查和考核落实。", ""]
    enforced = total = 0
    body: list[str] = []
    for reg in hb.regulations:
        body += [f"## {reg.id} {reg.title}", "", "| 条款 | 落实的表单项目 |", "| --- | --- |"]
        for clause_id in reg.clause_ids:
            total += 1
            items = [c for c in hb.citations.get(clause_id, []) if c.kind in ("form", "item")]
            enforced += bool(items)
            cells = "、".join(f"[{cell(c.label)}]({_citation_target(page, c)})" for c in items) or "—"
            body.append(f"| [{clause_id}]({clause_link(hb, page, clause_id)}) | {cells} |")
        body.append("")
    out += [f"共 {total} 个条文条款,其中 {enforced} 个有表单项目落实。", "", *body]
    return "\n".join(out)


def _citation_target(page: str, citation) -> str:
    return link(page, form_page(citation.source_id), f"item-{citation.detail}" if citation.detail else "")
