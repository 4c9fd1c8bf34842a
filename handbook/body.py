"""Split a regulation's Markdown body into headings, prose, clauses and table placements.

A clause is a paragraph that starts with `[KF-03.4]`; it runs until the next clause, heading or
table line. Markup inside clauses stays Markdown; references (`[[KF-12.4]]`, `[[form:patrol]]`) and
placeholders (`{{ org.name }}`) are found here and resolved by `crossref` and `render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Block, Clause, ClauseBlock, Heading, Prose, TableBlock
from .problems import Problem, make_problem

REGULATION_ID = re.compile(r"[A-Z]{2,4}-\d{2}")
CLAUSE_ID = re.compile(r"[A-Z]{2,4}-\d{2}\.[1-9]\d*")
CLAUSE_MARK = re.compile(r"\[(?P<id>[A-Z]{2,4}-[^\]\s]*)\]\s*(?P<rest>.*)")
HEADING = re.compile(r"(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*")
TABLE_LINE = re.compile(r"\[\[table:(?P<id>[^\]]*)\]\]\s*")
REFERENCE = re.compile(r"\[\[(?P<target>[^\]]+)\]\]")
PLACEHOLDER = re.compile(r"\{\{\s*(?P<name>[^}]*?)\s*\}\}")
FENCE = re.compile(r"\s*(```|~~~)")


@dataclass
class ParsedBody:
    blocks: list[Block] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)


def parse_body(text: str, regulation_id: str, path: str, first_line: int,
               problems: list[Problem]) -> ParsedBody:
    """Parse the body that starts at `first_line` of `path` (1-based)."""
    parsed = ParsedBody()
    section = ""
    current: list[str] = []  # lines of the open clause or prose paragraph
    current_clause: Clause | None = None
    prose_line = 0
    in_fence = False

    def close() -> None:
        nonlocal current, current_clause
        content = "\n".join(current).strip("\n")
        if current_clause is not None:
            current_clause.text = content
            if not content.strip():
                problems.append(make_problem(path, current_clause.line, "clause-empty", id=current_clause.id))
            parsed.clauses.append(current_clause)
            parsed.blocks.append(ClauseBlock(current_clause.id))
        elif content.strip():
            parsed.blocks.append(Prose(content, prose_line))
        current, current_clause = [], None

    for offset, line in enumerate(text.split("\n")):
        number = first_line + offset
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            if not current and current_clause is None:
                prose_line = number
            current.append(line)
            continue
        heading = HEADING.fullmatch(line)
        table = TABLE_LINE.fullmatch(line)
        mark = CLAUSE_MARK.fullmatch(line)
        if heading:
            close()
            level = len(heading["hashes"])
            if level == 1:
                problems.append(make_problem(path, number, "heading-level"))
                level = 2
            section = heading["title"]
            parsed.blocks.append(Heading(level, section, number))
        elif table:
            close()
            parsed.blocks.append(TableBlock(table["id"].strip(), number))
        elif mark:
            close()
            clause_id = mark["id"]
            if not CLAUSE_ID.fullmatch(clause_id):
                problems.append(make_problem(path, number, "bad-id", field="条款编号", value=clause_id,
                                             pattern=f"{regulation_id}.1"))
                clause_id = ""
            elif clause_id.rsplit(".", 1)[0] != regulation_id:
                problems.append(make_problem(path, number, "clause-prefix", id=clause_id, reg=regulation_id))
                clause_id = ""
            if clause_id:
                current_clause = Clause(clause_id, regulation_id, "", section, path, number)
                current = [mark["rest"]]
            else:  # keep the text as prose so nothing the author wrote disappears
                prose_line = number
                current = [line]
        else:
            if not current and current_clause is None:
                if not line.strip():
                    continue
                prose_line = number
            current.append(line)
    close()
    return parsed


def references(text: str) -> list[str]:
    """Targets of `[[...]]` references in a piece of text, in order."""
    return [m["target"].strip() for m in REFERENCE.finditer(text)]


def placeholders(text: str) -> list[str]:
    return [m["name"] for m in PLACEHOLDER.finditer(text)]
