"""Load the whole source tree into a `Handbook`, collecting every problem on the way.

`load_handbook(root)` never raises for bad input: it returns the best model it could build and the
sorted list of problems. Edges (CLI, MkDocs plugin, server start) decide what to do with problems;
`require_handbook(root)` is the helper for edges that cannot go on with any.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .crossref import check_and_index
from .model import Clause, Handbook, Organisation, Question, Table
from .problems import Problem, SourceError, make_problem
from .read_forms import read_form
from .read_org import read_organisation, read_topics
from .read_quiz import read_paths, read_quiz
from .read_regulation import read_regulation
from .read_tables import read_table
from .yamlsrc import parse_yaml

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


class _Reader:
    """Reads files relative to the project root and reports paths relative to it."""

    def __init__(self, root: Path, problems: list[Problem]):
        self.root = root
        self.problems = problems

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def text(self, path: Path) -> str | None:
        try:
            return path.read_bytes().decode("utf-8").replace("\r\n", "\n").lstrip("\ufeff")
        except UnicodeDecodeError as error:
            self.problems.append(make_problem(self.rel(path), 1, "yaml-not-text", detail=error.reason))
        except OSError as error:
            self.problems.append(make_problem(self.rel(path), 1, "yaml-not-text", detail=error.strerror))
        return None

    def yaml(self, path: Path):
        text = self.text(path)
        if text is None:
            return None
        node, problems = parse_yaml(text, self.rel(path))
        self.problems.extend(problems)
        return node


def load_handbook(root: str | Path) -> tuple[Handbook, list[Problem]]:
    root = Path(root).resolve()
    problems: list[Problem] = []
    r = _Reader(root, problems)
    regs_dir, forms_dir = root / "regulations", root / "checklists"

    org_path = regs_dir / "organisation.yaml"
    if org_path.exists():
        organisation = read_organisation(r.yaml(org_path), r.rel(org_path), problems)
    else:
        problems.append(make_problem(r.rel(org_path), 1, "no-files", what=" organisation.yaml"))
        organisation = Organisation("", "", "", "", "")
    topics_path = regs_dir / "topics.yaml"
    topics = read_topics(r.yaml(topics_path), r.rel(topics_path), problems) if topics_path.exists() else []

    regulations, clauses = [], {}
    for path in sorted(regs_dir.glob("*.md")):
        if path.name.startswith("_") or path.name.upper() == "README.MD":
            continue
        text = r.text(path)
        result = read_regulation(text, r.rel(path), problems, organisation.approver) if text is not None else None
        if result is None:
            continue
        regulation, regulation_clauses = result
        regulations.append(regulation)
        for clause in regulation_clauses:
            _add_clause(clauses, clause, problems)
    if not regulations:
        problems.append(make_problem(r.rel(regs_dir), 1, "no-files", what="制度文件(*.md)"))

    tables: dict[str, Table] = {}
    for path in sorted((regs_dir / "tables").glob("*.yaml")):
        table = read_table(r.yaml(path), path.stem, r.rel(path), problems)
        if table is None:
            continue
        tables[table.id] = table
        for row in table.rows:
            _add_clause(clauses, Clause(row.id, table.regulation_id, row.summary(), table.title, table.path,
                                        row.line, table_id=table.id), problems)

    questions: list[Question] = []
    for path in sorted((regs_dir / "quizzes").glob("*.yaml")):
        questions.extend(read_quiz(r.yaml(path), path.stem, r.rel(path), problems))
    paths_file = regs_dir / "paths.yaml"
    paths = read_paths(r.yaml(paths_file), r.rel(paths_file), problems) if paths_file.exists() else []

    forms = []
    for path in sorted(forms_dir.glob("*.yaml")):
        form = read_form(r.yaml(path), path.stem, r.rel(path), problems)
        if form is not None:
            forms.append(form)

    regulations.sort(key=lambda reg: reg.id)
    hb = Handbook(str(root), organisation, topics, regulations, tables, clauses, questions, forms, paths)
    check_and_index(hb, problems)
    return hb, sorted(set(problems))


def _add_clause(clauses: dict[str, Clause], clause: Clause, problems: list[Problem]) -> None:
    first = clauses.get(clause.id)
    if first is not None:
        problems.append(make_problem(clause.path, clause.line, "duplicate-id", id=clause.id,
                                     other=f"{first.path}:{first.line}"))
        return
    clauses[clause.id] = clause


def require_handbook(root: str | Path) -> Handbook:
    """The loaded handbook, or SourceError listing every problem."""
    hb, problems = load_handbook(root)
    if problems:
        raise SourceError(problems)
    return hb
