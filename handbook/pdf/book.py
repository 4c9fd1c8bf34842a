"""The printed handbook (员工手册): the whole handbook, or what applies to one role, as one A4 book.

    book_edition(hb) -> Edition                  the handbook-wide revision printed on every book
    book_html(hb, role=None, font=None) -> str   the print page: cover, 目录, regulations, 条款索引, 签收页
    book_pdf(hb, role=None) -> bytes             rendered by render_pdf (same fetcher, same font)

Page numbers in the table of contents, the clause index and cross-references are WeasyPrint's
`target-counter()`, so they are right by construction. Clause text is the regulations' own Markdown,
with placeholders filled and `[[…]]` references turned into links inside the book (or plain ids when
the cited clause is not in a role's book).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import markdown
from markupsafe import Markup, escape

from ..body import PLACEHOLDER, REFERENCE
from ..model import ClauseBlock, Handbook, Heading, Prose, Regulation, Table, TableBlock
from ..pages_regulation import TABLE_COLUMNS
from ..render import blockify
from .fonts import PrintFont, print_font
from .html import TEMPLATES, environment
from .render import render_pdf


class UnknownRole(KeyError):
    """--role names no role of organisation.yaml."""


@dataclass(frozen=True)
class Edition:
    """The handbook's revision: the day of the latest revision entry of any regulation, and how many
    entries there are (a new entry on the same day still gives a new edition)."""

    date: dt.date
    entries: int

    @property
    def label(self) -> str:
        return f"{self.date.year}年{self.date.month}月{self.date.day}日版"


def book_edition(hb: Handbook) -> Edition:
    revisions = [rev for reg in hb.regulations for rev in reg.revisions]
    return Edition(max(rev.date for rev in revisions), len(revisions))


@dataclass
class Part:
    """One block of a regulation as the template prints it."""

    kind: str  # heading | prose | clause | table
    html: str = ""  # Markup
    level: int = 2
    clause_id: str = ""
    table: TableView | None = None


@dataclass
class TableView:
    title: str
    kind: str
    columns: tuple[str, ...]
    rows: list[tuple[str, list[str]]]  # (row id, cells)
    description: str = ""  # Markup


@dataclass
class RegulationView:
    reg: Regulation
    anchor: str
    control: list[tuple[str, str]]
    summary: str
    parts: list[Part] = field(default_factory=list)
    index: list[str] = field(default_factory=list)  # clause and row ids, by number


class _Text:
    """Author Markdown → HTML for the book: placeholders filled, references linked within the book."""

    def __init__(self, hb: Handbook, clauses: set[str]):
        self.values = hb.organisation.placeholders()
        self.clauses = clauses
        self.forms = {f.id: f for f in hb.forms}
        self.md = markdown.Markdown(output_format="html")

    def fill(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.values.get(m["name"], m[0]), text)

    def plain(self, text: str) -> str:
        return REFERENCE.sub(lambda m: self._plain_ref(m["target"].strip()), self.fill(text))

    def _plain_ref(self, target: str) -> str:
        form = self.forms.get(target.removeprefix("form:")) if target.startswith("form:") else None
        return form.number if form else target  # sources name the form before: 《…》([[form:x]])

    def _ref(self, m) -> str:
        target = m["target"].strip()
        if target in self.clauses:  # the page number comes from CSS (a.xref::after)
            return f'<a class="xref" href="#{target}">{target}</a>'
        return str(escape(self._plain_ref(target)))

    def __call__(self, text: str, prefix: str = "") -> Markup:
        source = prefix + REFERENCE.sub(self._ref, blockify(self.fill(text)))
        self.md.reset()
        return Markup(self.md.convert(source))


def _table(hb: Handbook, text: _Text, table: Table) -> TableView:
    columns, cells = TABLE_COLUMNS[table.kind]
    rows = [(row.id, [text.plain(v) for v in cells(hb, row)]) for row in table.rows]
    return TableView(text.plain(table.title), table.kind, columns, rows,
                     text(table.description) if table.description else "")


def _control(hb: Handbook, reg: Regulation) -> list[tuple[str, str]]:
    org = hb.organisation
    department = org.departments[reg.department].name if reg.department in org.departments else reg.department
    roles = "、".join(org.roles[r].name for r in reg.applies_to if r in org.roles)
    return [("文件编号", reg.number), ("版本", reg.revision), ("制订部门", department),
            ("发行日期", reg.effective.isoformat()), ("批准", reg.approver), ("适用岗位", roles)]


def _regulation(hb: Handbook, text: _Text, reg: Regulation) -> RegulationView:
    view = RegulationView(reg, f"reg-{reg.id}", _control(hb, reg), text.plain(reg.summary))
    for block in reg.blocks:
        if isinstance(block, Heading):
            view.parts.append(Part("heading", escape(text.plain(block.title)), level=min(block.level, 3)))
        elif isinstance(block, Prose):
            view.parts.append(Part("prose", text(block.text)))
        elif isinstance(block, ClauseBlock):
            mark = f'<span class="cid">{block.clause_id}</span>'  # inline, so it starts the first line
            view.parts.append(Part("clause", text(hb.clauses[block.clause_id].text, mark), clause_id=block.clause_id))
        elif isinstance(block, TableBlock) and block.table_id in hb.tables:
            view.parts.append(Part("table", table=_table(hb, text, hb.tables[block.table_id])))
    ids = set(reg.clause_ids) | {row.id for t in hb.tables.values() if t.regulation_id == reg.id for row in t.rows}
    view.index = sorted(ids, key=lambda c: hb.clauses[c].number)
    return view


def book_regulations(hb: Handbook, role: str | None = None) -> list[Regulation]:
    """The regulations a book holds: all, or those whose `applies_to` names `role`."""
    if role is not None and role not in hb.organisation.roles:
        raise UnknownRole(role)
    return [r for r in hb.regulations if role is None or role in r.applies_to]


def book_html(hb: Handbook, role: str | None = None, *, font: PrintFont | None = None) -> str:
    """The book's print HTML; raises UnknownRole for a role not in organisation.yaml."""
    regulations = book_regulations(hb, role)
    ids = {r.id for r in regulations}
    text = _Text(hb, {c for c, clause in hb.clauses.items() if clause.regulation_id in ids})
    views = [_regulation(hb, text, reg) for reg in regulations]
    css = (TEMPLATES / "book.css").read_text(encoding="utf-8")
    return environment().get_template("book.html.j2").render(
        org=hb.organisation, font=font or print_font(hb.root), css=Markup(css), views=views,
        edition=book_edition(hb), role=hb.organisation.roles[role] if role else None,
        topics={t.id: t.title for t in hb.topics})


def book_pdf(hb: Handbook, role: str | None = None) -> bytes:
    return render_pdf(book_html(hb, role))
