"""Load the whole source tree into a `Handbook`, collecting every problem on the way.

`load_handbook(root)` never raises for bad input: it returns the best model it could build and the
sorted list of problems. Edges (CLI, MkDocs plugin, server start) decide what to do with problems;
`require_handbook(root)` is the helper for edges that cannot go on with any.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .crossref import check_and_index
from .formmodel import Form
from .model import Clause, Handbook, Organisation, Question, Table
from .problems import Problem, SourceError, make_problem
from .read_checkpoints import check_checkpoints, read_checkpoints
from .read_conditions import check_conditions
from .read_forms import read_form
from .read_org import read_organisation, read_topics
from .read_quiz import read_paths, read_quiz
from .read_regulation import read_regulation
from .read_rules import (
    check_rules,
    read_handover,
    read_notifications,
    read_report,
    read_schedules,
    read_workflows,
)
from .read_tables import read_table
from .rules import Rules
from .yamlsrc import Node, parse_yaml

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

    def yaml(self, path: Path) -> tuple[Node | None, bool]:
        """(root node, readable): a file that is not readable YAML has had its problem recorded already,
        and its reader must not add a second, misleading one."""
        text = self.text(path)
        if text is None:
            return None, False
        node, problems = parse_yaml(text, self.rel(path))
        self.problems.extend(problems)
        return node, not problems


def load_handbook(root: str | Path) -> tuple[Handbook, list[Problem]]:
    root = Path(root).resolve()
    problems: list[Problem] = []
    r = _Reader(root, problems)
    regs_dir, forms_dir = root / "regulations", root / "checklists"

    org_path = regs_dir / "organisation.yaml"
    organisation = Organisation("", "", "", "", "")
    if not org_path.exists():
        problems.append(make_problem(r.rel(org_path), 1, "no-files", what=" organisation.yaml"))
    elif (parsed := r.yaml(org_path))[1]:
        organisation = read_organisation(parsed[0], r.rel(org_path), problems)
    topics_path = regs_dir / "topics.yaml"
    topics = []
    if topics_path.exists() and (parsed := r.yaml(topics_path))[1]:
        topics = read_topics(parsed[0], r.rel(topics_path), problems)

    regulations, clauses = [], {}
    regulation_files = [p for p in sorted(regs_dir.glob("*.md"))
                        if not p.name.startswith("_") and p.name.upper() != "README.MD"]
    for path in regulation_files:
        text = r.text(path)
        result = read_regulation(text, r.rel(path), problems, organisation.approver) if text is not None else None
        if result is None:
            continue
        regulation, regulation_clauses = result
        regulations.append(regulation)
        for clause in regulation_clauses:
            _add_clause(clauses, clause, problems)
    if not regulation_files:
        problems.append(make_problem(r.rel(regs_dir), 1, "no-files", what="制度文件(*.md)"))

    tables: dict[str, Table] = {}
    for path in sorted((regs_dir / "tables").glob("*.yaml")):
        node, readable = r.yaml(path)
        table = read_table(node, path.stem, r.rel(path), problems) if readable else None
        if table is None:
            continue
        tables[table.id] = table
        for row in table.rows:
            _add_clause(clauses, Clause(row.id, table.regulation_id, row.summary(), table.title, table.path,
                                        row.line, table_id=table.id), problems)

    questions: list[Question] = []
    for path in sorted((regs_dir / "quizzes").glob("*.yaml")):
        node, readable = r.yaml(path)
        if readable:
            questions.extend(read_quiz(node, path.stem, r.rel(path), problems))
    paths_file = regs_dir / "paths.yaml"
    paths = []
    if paths_file.exists() and (parsed := r.yaml(paths_file))[1]:
        paths = read_paths(parsed[0], r.rel(paths_file), problems)

    forms = []
    for path in sorted(forms_dir.glob("*.yaml")):
        node, readable = r.yaml(path)
        form = read_form(node, path.stem, r.rel(path), problems) if readable else None
        if form is not None:
            forms.append(form)

    for form in forms:
        _fill_options(form, organisation)
        check_conditions(form, problems)
    regulations.sort(key=lambda reg: reg.id)
    hb = Handbook(str(root), organisation, topics, regulations, tables, clauses, questions, forms, paths)
    check_and_index(hb, problems)
    hb.rules = _read_rules(r, forms_dir / "rules", hb, problems)
    return hb, sorted(set(problems))


def _read_rules(r: _Reader, rules_dir: Path, hb: Handbook, problems: list[Problem]) -> Rules:
    """checklists/rules/: each file is optional; a centre without one simply has no such follow-up."""
    rules, paths = Rules(), {}

    def parsed(name: str):
        path = rules_dir / f"{name}.yaml"
        if not path.exists():
            return None, False
        paths[name] = r.rel(path)
        return r.yaml(path)

    if (node := parsed("schedules"))[1]:
        rules.schedules = read_schedules(node[0], paths["schedules"], problems)
    if (node := parsed("handover"))[1]:
        rules.handover = read_handover(node[0], paths["handover"], problems)
    if (node := parsed("workflows"))[1]:
        rules.workflows, rules.spot_checks = read_workflows(node[0], paths["workflows"], problems)
    if (node := parsed("reports"))[1]:
        rules.report = read_report(node[0], paths["reports"], problems)
    if (node := parsed("notifications"))[1]:
        rules.notifications = read_notifications(node[0], paths["notifications"], problems)
    if (node := parsed("checkpoints"))[1]:
        rules.checkpoints = read_checkpoints(node[0], paths["checkpoints"], problems)
    check_rules(hb, rules, paths, problems)
    if rules.checkpoints is not None:
        check_checkpoints(hb, rules.checkpoints, problems)
    return rules


def _add_clause(clauses: dict[str, Clause], clause: Clause, problems: list[Problem]) -> None:
    first = clauses.get(clause.id)
    if first is not None:
        problems.append(make_problem(clause.path, clause.line, "duplicate-id", id=clause.id,
                                     other=f"{first.path}:{first.line}"))
        return
    clauses[clause.id] = clause


def _fill_options(form: Form, organisation: Organisation) -> None:
    """Choices declared `options_from: shifts` get the names from organisation.yaml."""
    for item in form.all_items() + [c for i in form.all_items() for c in i.columns]:
        if item.options_from:
            source = getattr(organisation, item.options_from)
            item.options = [entry.name for entry in source.values()]


def require_handbook(root: str | Path) -> Handbook:
    """The loaded handbook, or SourceError listing every problem."""
    hb, problems = load_handbook(root)
    if problems:
        raise SourceError(problems)
    return hb
