"""Turn source text into Markdown for pages: fill placeholders, resolve `[[...]]` references."""

from __future__ import annotations

import html
import posixpath
import re

from .body import PLACEHOLDER, REFERENCE
from .model import Handbook


def regulation_page(regulation_id: str) -> str:
    return f"regulations/{regulation_id}.md"


def form_page(form_id: str) -> str:
    return f"forms/{form_id}.md"


def link(from_page: str, to_page: str, anchor: str = "") -> str:
    """A relative Markdown link target from one generated page to another (MkDocs validates these)."""
    target = posixpath.relpath(to_page, posixpath.dirname(from_page) or ".")
    return f"{target}#{anchor}" if anchor else target


def clause_link(hb: Handbook, from_page: str, clause_id: str) -> str:
    clause = hb.clauses[clause_id]
    return link(from_page, regulation_page(clause.regulation_id), clause_id)


class TextRenderer:
    """Renders author text for one page: placeholders filled, references turned into links."""

    def __init__(self, hb: Handbook, page: str):
        self.hb = hb
        self.page = page
        self.values = hb.organisation.placeholders()
        self.forms = {f.id: f for f in hb.forms}

    def __call__(self, text: str) -> str:
        text = PLACEHOLDER.sub(lambda m: self.values.get(m["name"], m[0]), text)
        return blockify(REFERENCE.sub(self._reference, text))

    def _reference(self, m) -> str:
        target = m["target"].strip()
        if target.startswith("form:"):
            form = self.forms.get(target[5:])
            if form is None:
                return html.escape(target)
            # Sources name the form and put the reference in brackets: 《员工考核评估表》([[form:staff-review]]).
            return f'[{form.number}]({link(self.page, form_page(form.id))} "{form.title}")'
        if target in self.hb.clauses:
            return f"[{target}]({clause_link(self.hb, self.page, target)})"
        return html.escape(target)

    def plain(self, text: str) -> str:
        """Text with placeholders filled and references left as their bare ids (for tables, excerpts)."""
        text = PLACEHOLDER.sub(lambda m: self.values.get(m["name"], m[0]), text)
        return REFERENCE.sub(lambda m: self._plain_reference(m["target"].strip()), text)

    def _plain_reference(self, target: str) -> str:
        form = self.forms.get(target[5:]) if target.startswith("form:") else None
        return form.number if form else target.removeprefix("form:")


_LIST_ITEM = re.compile(r"\s{0,3}(\d+\.|[-*+])\s+")


def blockify(text: str) -> str:
    """Make the lists authors write under a clause's first line into Markdown lists.

    Authors indent list lines or start them right under the paragraph; Python-Markdown needs them
    at the margin and after a blank line.
    """
    out: list[str] = []
    for line in text.split("\n"):
        if _LIST_ITEM.match(line):
            if out and out[-1].strip() and not _LIST_ITEM.match(out[-1]):
                out.append("")
            line = line.lstrip()
        out.append(line)
    return "\n".join(out)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", "<br>")
