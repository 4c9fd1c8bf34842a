"""Read quiz questions (regulations/quizzes/<id>.yaml) and learning paths (regulations/paths.yaml)."""

from __future__ import annotations

import re

from .body import REGULATION_ID
from .fields import Fields
from .model import QUESTION_KINDS, LearningPath, Option, Question
from .problems import Problem
from .read_org import SLUG
from .yamlsrc import Node, Sequence, describe

QUESTION_ID = re.compile(r"[A-Z]{2,4}-\d{2}-Q[1-9]\d*")
QUESTION_KEYS = ("id", "kind", "refs", "question", "options", "answer", "explanation")
PATH_KEYS = ("id", "title", "roles", "regulations", "pass_mark", "due_days", "description")
DEFAULT_DUE_DAYS = 7
MAX_DUE_DAYS = 366


def read_quiz(node: Node | None, file_stem: str, path: str, problems: list[Problem]) -> list[Question]:
    f = Fields(path, problems)
    m = f.mapping(node, "测验文件", ("regulation", "questions"), ("regulation", "questions"))
    if m is None:
        return []
    regulation_id = f.ident(m, "regulation", REGULATION_ID, "KF-03")
    if regulation_id is None:
        return []
    if regulation_id != file_stem:
        f.problem(f.line(m, "regulation"), "quiz-regulation", name=f"{file_stem}.yaml", reg=regulation_id)
    questions = []
    for entry in f.sequence(m, "questions", required=True):
        question = _read_question(f, entry, regulation_id, path)
        if question is not None:
            questions.append(question)
    return questions


def _read_question(f: Fields, entry: Node, regulation_id: str, path: str) -> Question | None:
    item = f.mapping(entry, "questions", QUESTION_KEYS, ("id", "kind", "refs", "question", "explanation"))
    if item is None:
        return None
    question_id = f.ident(item, "id", QUESTION_ID, f"{regulation_id}-Q1")
    kind = f.choice(item, "kind", QUESTION_KINDS)
    refs = [value for value, _ in f.text_list(item, "refs", required=True, single_ok=True)]
    text = f.text(item, "question") or ""
    explanation = f.text(item, "explanation") or ""
    if question_id is None or kind is None:
        return None
    if not question_id.startswith(regulation_id + "-"):
        f.problem(f.line(item, "id"), "question-prefix", id=question_id, reg=regulation_id)
    options: list[Option] = []
    answer: bool | None = None
    if kind == "truefalse":
        if "options" in item.items:
            f.problem(f.line(item, "options"), "question-answer-field", id=question_id, detail="判断题不能有 options")
        if "answer" not in item.items:
            f.problem(item.line, "question-answer-field", id=question_id, detail="判断题缺少 answer")
        else:
            answer = f.boolean(item, "answer")
    else:
        if "answer" in item.items:
            f.problem(f.line(item, "answer"), "question-answer-field", id=question_id, detail="选择题不能有 answer")
        for option_node in f.sequence(item, "options", required=True):
            option = f.mapping(option_node, "options", ("text", "correct"), ("text",))
            if option is not None:
                options.append(Option(f.text(option, "text") or "", f.boolean(option, "correct")))
        correct = sum(o.correct for o in options)
        if not 2 <= len(options) <= 6:
            f.problem(item.line, "question-options", id=question_id, count=len(options))
        if correct == 0:
            f.problem(item.line, "question-no-answer", id=question_id)
        elif kind == "single" and correct > 1:
            f.problem(item.line, "question-single-many", id=question_id, count=correct)
    return Question(question_id, regulation_id, kind, refs, text, options, answer, explanation, path, item.line,
                    dict(item.key_lines))


def read_paths(node: Node | None, path: str, problems: list[Problem]) -> list[LearningPath]:
    f = Fields(path, problems)
    if node is None:
        return []
    if not isinstance(node, Sequence):
        f.problem(node.line, "type-list", field="paths.yaml", actual=describe(node))
        return []
    paths = []
    seen: dict[str, int] = {}
    for entry in node.items:
        item = f.mapping(entry, "paths", PATH_KEYS, ("id", "title", "roles", "regulations", "pass_mark"))
        if item is None:
            continue
        path_id = f.ident(item, "id", SLUG, "new-staff")
        pass_mark = f.integer(item, "pass_mark", required=True)
        if pass_mark is not None and not 0 < pass_mark <= 100:
            f.problem(f.line(item, "pass_mark"), "int-range", field="pass_mark", value=pass_mark, low=1, high=100)
        due_days = f.integer(item, "due_days")
        if due_days is not None and not 0 < due_days <= MAX_DUE_DAYS:
            f.problem(f.line(item, "due_days"), "int-range", field="due_days", value=due_days, low=1,
                      high=MAX_DUE_DAYS)
            due_days = None
        if path_id is None:
            continue
        if path_id in seen:
            f.problem(f.line(item, "id"), "duplicate-id", id=path_id, other=f"第 {seen[path_id]} 行")
            continue
        seen[path_id] = f.line(item, "id")
        paths.append(LearningPath(
            path_id, f.text(item, "title") or "", [v for v, _ in f.text_list(item, "roles", required=True)],
            [v for v, _ in f.text_list(item, "regulations", required=True)], pass_mark or 80,
            f.text(item, "description", False) or "", path, item.line, due_days or DEFAULT_DUE_DAYS))
    return paths
