"""All pages of the handbook site and their navigation, as plain data (path → Markdown).

Pure functions of the model: the MkDocs plugin only hands these to MkDocs. The output is
deterministic: the same source gives byte-identical pages.
"""

from __future__ import annotations

from . import pages_operations as operations
from . import pages_overview as overview
from .model import Handbook
from .pages_regulation import render_regulation
from .render import form_page, regulation_page


def build_pages(hb: Handbook, downloads: bool = False, books: bool = False) -> dict[str, str]:
    """`downloads`: the site also carries each form's PDF and print HTML; `books`: the printed
    handbook, whole and per role (see site_downloads)."""
    pages = {
        "index.md": overview.home(hb, books),
        "clauses.md": overview.clause_index(hb),
        "penalties.md": overview.penalties(hb),
        "revisions.md": overview.revisions(hb),
        "roles/index.md": overview.roles_index(hb),
        "forms/index.md": overview.forms_index(hb),
        "forms/coverage.md": overview.coverage(hb),
        operations.PAGE: operations.operations_page(hb),
    }
    for reg in hb.regulations:
        pages[regulation_page(reg.id)] = render_regulation(hb, reg)
    for role_id in hb.organisation.roles:
        pages[f"roles/{role_id}.md"] = overview.role_page(hb, role_id, books)
    for form in hb.forms:
        pages[form_page(form.id)] = overview.form_page_markdown(hb, form, downloads)
    return pages


def build_nav(hb: Handbook) -> list:
    """MkDocs `nav`: home, regulations by topic, by role, quick references, forms."""
    by_topic = []
    for topic in hb.topics:
        regs = [{f"{r.id} {r.title}": regulation_page(r.id)} for r in hb.regulations if r.topic == topic.id]
        if regs:
            by_topic.append({topic.title: regs})
    roles = [{"岗位与职责": "roles/index.md"}]
    roles += [{role.name: f"roles/{role.id}.md"} for role in hb.organisation.roles.values()]
    forms = [{"全部表单": "forms/index.md"}, {"制度与表单对照": "forms/coverage.md"},
             {"日常运营规则": operations.PAGE}]
    forms += [{form.title: form_page(form.id)} for form in hb.forms]
    return [
        {"首页": "index.md"},
        {"制度": by_topic},
        {"按岗位": roles},
        {"速查": [{"条款索引": "clauses.md"}, {"处罚与罚款标准": "penalties.md"}, {"修订历史": "revisions.md"}]},
        {"表单": forms},
    ]
