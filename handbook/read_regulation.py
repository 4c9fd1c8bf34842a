"""Read one regulation file: YAML front matter (document control) and the Markdown body."""

from __future__ import annotations

import re

from .body import REGULATION_ID, parse_body
from .fields import Fields
from .model import Clause, Regulation, Revision
from .problems import Problem, make_problem
from .yamlsrc import parse_yaml

FRONT_KEYS = ("id", "title", "topic", "number", "revision", "department", "effective", "approver",
              "applies_to", "sources", "summary", "revisions")
FRONT_REQUIRED = ("id", "title", "topic", "number", "revision", "department", "effective", "applies_to",
                  "sources", "revisions")
REVISION_KEYS = ("revision", "date", "author", "summary", "decisions")
REVISION_TEXT = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-/]*")


def split_front_matter(text: str, path: str, problems: list[Problem]) -> tuple[str, str, int] | None:
    """(front matter, body, line where the body starts), or None after recording a problem."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.append(make_problem(path, 1, "front-matter"))
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 2
    problems.append(make_problem(path, 1, "front-matter-open"))
    return None


def read_regulation(text: str, path: str, problems: list[Problem],
                    default_approver: str = "") -> tuple[Regulation, list[Clause]] | None:
    split = split_front_matter(text, path, problems)
    if split is None:
        return None
    front, body, body_line = split
    node, yaml_problems = parse_yaml(front, path, line_offset=1)
    problems.extend(yaml_problems)
    if yaml_problems:
        return None
    f = Fields(path, problems)
    m = f.mapping(node, "文件头", FRONT_KEYS, FRONT_REQUIRED, line=1)
    if m is None:
        return None
    regulation_id = f.ident(m, "id", REGULATION_ID, "KF-03")
    revisions = _read_revisions(f, m)
    regulation = Regulation(
        id=regulation_id or "",
        title=f.text(m, "title") or "",
        topic=f.text(m, "topic") or "",
        number=f.text(m, "number") or "",
        revision=f.ident(m, "revision", REVISION_TEXT, '"1.0"') or "",
        department=f.text(m, "department") or "",
        effective=f.date(m, "effective"),  # type: ignore[arg-type]  # None only when a problem is recorded
        approver=f.text(m, "approver", required=False) or default_approver,
        applies_to=[value for value, _ in f.text_list(m, "applies_to", required=True)],
        sources=[value for value, _ in f.text_list(m, "sources", required=True)],
        summary=f.text(m, "summary", required=False) or "",
        revisions=revisions,
        path=path,
        lines=dict(m.key_lines),
    )
    _check_revisions(f, m, regulation)
    if not regulation_id:
        return None
    parsed = parse_body(body, regulation_id, path, body_line, problems)
    regulation.blocks = parsed.blocks
    if not parsed.clauses:
        problems.append(make_problem(path, body_line, "no-clauses", reg=regulation_id))
    return regulation, parsed.clauses


def _read_revisions(f: Fields, m) -> list[Revision]:
    revisions = []
    for entry in f.sequence(m, "revisions", required=True):
        item = f.mapping(entry, "revisions", REVISION_KEYS, ("revision", "date", "author", "summary"))
        if item is None:
            continue
        revision = f.ident(item, "revision", REVISION_TEXT, '"1.0"')
        date = f.date(item, "date")
        if revision is None or date is None:
            continue
        decisions = tuple(value for value, _ in f.text_list(item, "decisions"))
        revisions.append(Revision(revision, date, f.text(item, "author") or "", f.text(item, "summary") or "",
                                  decisions))
    return revisions


def _check_revisions(f: Fields, m, regulation: Regulation) -> None:
    if not regulation.revisions or not regulation.revision:
        return
    last = regulation.revisions[-1]
    if last.revision != regulation.revision:
        f.problem(f.line(m, "revision"), "revision-mismatch", revision=regulation.revision, last=last.revision)
    dates = [r.date for r in regulation.revisions]
    if dates != sorted(dates):
        f.problem(f.line(m, "revisions"), "revision-order")
    if regulation.effective and regulation.effective < last.date:
        f.problem(f.line(m, "effective"), "effective-before", effective=regulation.effective, date=last.date)
