"""`handbook check` on malformed sources: every mistake is reported with its code, its exact line and a
Chinese message and fix; all problems are reported at once; the CLI never raises.

Each case replaces ONE file of the mini project (tests/conftest.py) with a broken variant. The expected
line is the line of the mini project file where the author made the mistake, so the conftest constants
must keep their layout (the line map is in the comment above each constant).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from handbook.cli import main
from handbook.load import load_handbook
from handbook.problems import CATALOGUE, Problem
from handbook.yamlsrc import parse_yaml
from tests.conftest import (
    FORM,
    FORM_PATH,
    MINI_FILES,
    ORG,
    ORG_PATH,
    PATHS,
    PATHS_PATH,
    QUIZ,
    QUIZ_PATH,
    REG,
    REG_PATH,
    TABLE,
    TABLE_PATH,
    TOPICS_PATH,
    replace_once,
    write_file,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
PROBLEM_LINE = re.compile(r"^(?P<path>[^:\s][^:]*):(?P<line>[1-9]\d*): (?P<message>.+) — (?P<fix>.+)$")


@dataclass(frozen=True)
class Case:
    path: str  # the file that is replaced
    content: str | bytes  # its broken content
    code: str  # the expected problem code
    line: int  # the expected line
    where: str | None = None  # the file the problem is reported in, when not `path`
    contains: str = ""  # text the message must contain (a did-you-mean hint, the offending value)


def sub(original: str, old: str, new: str) -> str:
    return replace_once(original, old, new)


def case(case_id: str, path: str, content: str | bytes, code: str, line: int, *, where: str | None = None,
         contains: str = ""):
    return pytest.param(Case(path, content, code, line, where, contains), id=case_id)


CASES = [
    # -- YAML syntax --------------------------------------------------------------------------------
    case("yaml-indent-top-level-key", TABLE_PATH, sub(TABLE, "title: 罚款标准", " title: 罚款标准"), "yaml-syntax", 3),
    case("yaml-indent-nested-key", TABLE_PATH, sub(TABLE, "    sanctions: [口头", "   sanctions: [口头"),
         "yaml-syntax", 7),
    case("yaml-indent-list-item", ORG_PATH, sub(ORG, "  - {id: supervisor", "    - {id: supervisor"),
         "yaml-syntax", 11, contains="缩进"),
    case("yaml-unclosed-quote", FORM_PATH, sub(FORM, "description: 巡查", 'description: "巡查'), "yaml-syntax", 8,
         contains="引号"),
    case("yaml-unclosed-quote-one-line-file", TOPICS_PATH, "- {id: general, title: '总则, description: 总体要求}\n",
         "yaml-syntax", 1),
    case("yaml-colon-in-unquoted-value", FORM_PATH, sub(FORM, "title: 巡查检查表", "title: 巡查: 检查表"),
         "yaml-syntax", 2, contains="引号"),
    case("yaml-colon-in-front-matter", REG_PATH, sub(REG, "title: 测试制度", "title: 测试: 制度"), "yaml-syntax", 3),
    case("yaml-tab-indent", TABLE_PATH, sub(TABLE, "    offence: 迟到", "\toffence: 迟到"), "yaml-tab", 6),
    case("yaml-tab-indent-front-matter", REG_PATH, sub(REG, "    date: 2026-01-01", "\tdate: 2026-01-01"),
         "yaml-tab", 14),
    case("yaml-duplicate-key", QUIZ_PATH, sub(QUIZ, "    kind: multiple\n", "    kind: multiple\n    kind: single\n"),
         "yaml-duplicate-key", 13, contains="第 12 行"),
    case("yaml-duplicate-key-front-matter", REG_PATH, sub(REG, "title: 测试制度\n", "title: 测试制度\ntitle: 另一个\n"),
         "yaml-duplicate-key", 4, contains="title"),
    case("yaml-anchor", ORG_PATH, sub(ORG, "  - {id: duty,", "  - &d {id: duty,"), "yaml-alias", 12),
    case("yaml-alias", ORG_PATH, ORG + "areas: *roles\n", "yaml-alias", 20),
    case("yaml-merge-key", TOPICS_PATH, "- id: general\n  title: 总则\n  <<: {description: 合并}\n", "yaml-alias", 3),
    # -- keys, required fields, empty values, types --------------------------------------------------
    case("unknown-key-titel", FORM_PATH, sub(FORM, "title: 巡查检查表", "titel: 巡查检查表"), "unknown-key", 2,
         contains="是否要写 “title”"),
    case("unknown-key-front-matter", REG_PATH, sub(REG, "summary: 用于", "sumary: 用于"), "unknown-key", 11,
         contains="是否要写 “summary”"),
    case("unknown-key-question", QUIZ_PATH, sub(QUIZ, "explanation: 见 KF-01.1。", "explaination: 见 KF-01.1。"),
         "unknown-key", 10, contains="explanation"),
    case("missing-table-title", TABLE_PATH, sub(TABLE, "title: 罚款标准\n", ""), "missing", 1, contains="title"),
    case("missing-question-explanation", QUIZ_PATH, sub(QUIZ, "    explanation: 见 KF-01.1。\n", ""), "missing", 3,
         contains="explanation"),
    case("empty-value", FORM_PATH, sub(FORM, "title: 巡查检查表", "title:"), "empty", 2),
    case("empty-quoted-value", REG_PATH, sub(REG, "title: 测试制度", 'title: ""'), "empty", 3),
    case("empty-list", REG_PATH, sub(REG, "applies_to: [staff, supervisor]", "applies_to: []"), "empty", 9),
    case("mapping-where-text", REG_PATH, sub(REG, "title: 测试制度", "title: {zh: 测试制度}"), "type-text", 3,
         contains="映射"),
    case("text-where-list", REG_PATH, sub(REG, "applies_to: [staff, supervisor]", "applies_to: staff"),
         "type-list", 9, contains="staff"),
    case("text-where-mapping", TOPICS_PATH, "- general\n", "type-mapping", 1),
    # -- YAML implicit typing traps: never converted ------------------------------------------------
    case("bool-yes", FORM_PATH, sub(FORM, "走廊无杂物, required: true", "走廊无杂物, required: yes"), "bad-bool", 16),
    case("bool-NO", FORM_PATH, sub(FORM, "走廊无杂物, required: true", "走廊无杂物, required: NO"), "bad-bool", 16),
    case("bool-on", FORM_PATH, sub(FORM, "走廊无杂物, required: true", "走廊无杂物, required: on"), "bad-bool", 16),
    case("bool-quoted", FORM_PATH, sub(FORM, "走廊无杂物, required: true", '走廊无杂物, required: "true"'),
         "bad-bool", 16),
    case("bool-answer-yes", QUIZ_PATH, sub(QUIZ, "answer: true", "answer: yes"), "bad-bool", 24),
    case("time-1600", ORG_PATH, sub(ORG, 'start: "08:00"', "start: 1600"), "bad-time", 16, contains="1600"),
    case("time-25:00", ORG_PATH, sub(ORG, 'start: "08:00"', "start: 25:00"), "bad-time", 16),
    case("time-one-digit-hour", ORG_PATH, sub(ORG, 'start: "08:00"', 'start: "8:00"'), "bad-time", 16),
    case("int-leading-zero", TABLE_PATH, sub(TABLE, "fine: 20", "fine: 0123"), "bad-int", 8, contains="0123"),
    case("int-exponent", TABLE_PATH, sub(TABLE, "fine: 20", "fine: 1e3"), "bad-int", 8),
    case("int-quoted", TABLE_PATH, sub(TABLE, "fine: 20", 'fine: "50"'), "bad-int", 8),
    case("int-decimal", TABLE_PATH, sub(TABLE, "fine: 20", "fine: 20.5"), "bad-int", 8),
    case("date-month-13", REG_PATH, sub(REG, "effective: 2026-02-01", "effective: 2026-13-01"), "bad-date", 8),
    case("date-no-dashes", REG_PATH, sub(REG, "effective: 2026-02-01", "effective: 20261201"), "bad-date", 8),
    case("date-feb-30", REG_PATH, sub(REG, "effective: 2026-02-01", "effective: 2026-02-30"), "bad-date", 8),
    case("date-in-revisions", REG_PATH, sub(REG, "date: 2026-01-01", "date: 2026-1-1"), "bad-date", 14),
    # -- regulations: document control ---------------------------------------------------------------
    case("regulation-id", REG_PATH, sub(REG, "id: KF-01", "id: KF-1"), "bad-id", 2),
    case("revision-mismatch", REG_PATH, sub(REG, 'revision: "1.1"\ndepartment', 'revision: "1.2"\ndepartment'),
         "revision-mismatch", 6),
    case("revisions-out-of-order", REG_PATH, sub(REG, "date: 2026-01-01", "date: 2026-03-01"), "revision-order", 12),
    case("effective-before-last-revision", REG_PATH, sub(REG, "effective: 2026-02-01", "effective: 2026-01-15"),
         "effective-before", 8),
    case("missing-front-matter", REG_PATH, REG.removeprefix("---\n"), "front-matter", 1),
    case("unclosed-front-matter", REG_PATH, sub(REG, "---\n\n本制度", "\n本制度"), "front-matter-open", 1),
    # -- regulations: body -----------------------------------------------------------------------------
    case("clause-wrong-prefix", REG_PATH, sub(REG, "[KF-01.1] 客服", "[KF-02.1] 客服"), "clause-prefix", 29),
    case("clause-marker-x", REG_PATH, sub(REG, "[KF-01.3]", "[KF-01.x]"), "bad-id", 35, contains="KF-01.x"),
    case("clause-marker-zero", REG_PATH, sub(REG, "[KF-01.3]", "[KF-01.0]"), "bad-id", 35),
    case("clause-empty", REG_PATH, sub(REG, "[KF-01.3] 违反本制度的,按下表处理。", "[KF-01.3]"), "clause-empty", 35),
    case("duplicate-clause-in-body", REG_PATH, sub(REG, "[KF-01.3]", "[KF-01.1]"), "duplicate-id", 35,
         contains=f"{REG_PATH}:29"),
    case("table-row-collides-with-clause", TABLE_PATH, sub(TABLE, "id: KF-01.21", "id: KF-01.3"), "duplicate-id", 11,
         contains=f"{REG_PATH}:35"),
    case("dangling-clause-reference", REG_PATH, sub(REG, "[[KF-01.1]]", "[[KF-01.9]]"), "dangling-ref", 31,
         contains="KF-01.9"),
    case("dangling-form-reference", REG_PATH, sub(REG, "[[form:patrol]]", "[[form:nope]]"), "dangling-ref", 31,
         contains="nope"),
    case("unknown-placeholder-preamble", REG_PATH, sub(REG, "{{ org.name }}", "{{ org.nmae }}"), "placeholder", 25,
         contains="是否要写 “org.name”"),
    case("unknown-placeholder-clause", REG_PATH, sub(REG, "[KF-01.3] 违反", "[KF-01.3] {{ role.staf }}违反"),
         "placeholder", 35, contains="role.staff"),
    case("level-1-heading", REG_PATH, sub(REG, "## 基本要求", "# 基本要求"), "heading-level", 27),
    case("no-clauses", REG_PATH, REG.split("\n## 基本要求")[0] + "\n", "no-clauses", 24),
    case("table-placed-twice", REG_PATH, sub(REG, "[[table:fines]]\n", "[[table:fines]]\n\n[[table:fines]]\n"),
         "table-placement", 1, where=TABLE_PATH, contains="2 次"),
    case("table-not-placed", REG_PATH, sub(REG, "\n[[table:fines]]\n", ""), "table-placement", 1, where=TABLE_PATH),
    case("unknown-table-placed", REG_PATH, sub(REG, "[[table:fines]]\n", "[[table:fines]]\n\n[[table:nope]]\n"),
         "dangling-ref", 39, contains="nope"),
    case("unknown-topic", REG_PATH, sub(REG, "topic: general", "topic: genral"), "dangling-ref", 4,
         contains="是否要写 “general”"),
    case("unknown-role-in-applies-to", REG_PATH, sub(REG, "[staff, supervisor]", "[staff, cleaner]"),
         "dangling-ref", 9, contains="cleaner"),
    # -- tables ----------------------------------------------------------------------------------------
    case("unknown-sanction", TABLE_PATH, sub(TABLE, "[书面警告]", "[书面警告, 扣工资]"), "bad-choice", 13,
         contains="扣工资"),
    case("fine-max-below-fine", TABLE_PATH, sub(TABLE, "fine_max: 50", "fine_max: 10"), "fine-range", 9),
    case("unknown-table-kind", TABLE_PATH, sub(TABLE, "kind: penalties", "kind: penalty"), "bad-choice", 1,
         contains="是否要写 “penalties”"),
    # -- quizzes ---------------------------------------------------------------------------------------
    case("question-no-correct-option", QUIZ_PATH, sub(QUIZ, "{text: 5 分钟, correct: true}", "{text: 5 分钟}"),
         "question-no-answer", 3),
    case("single-choice-two-correct", QUIZ_PATH, sub(QUIZ, "{text: 15 分钟}", "{text: 15 分钟, correct: true}"),
         "question-single-many", 3),
    case("flow-mapping-comma", QUIZ_PATH, sub(QUIZ, "{text: 15 分钟}", "{text: 15, 分钟}"), "flow-comma", 9,
         contains="分钟"),
    case("question-one-option", QUIZ_PATH, sub(QUIZ, "      - {text: 15 分钟}\n", ""), "question-options", 3),
    case("truefalse-with-options", QUIZ_PATH,
         sub(QUIZ, "    answer: true\n", "    answer: true\n    options:\n      - {text: 对, correct: true}\n"),
         "question-answer-field", 25),
    case("truefalse-without-answer", QUIZ_PATH, sub(QUIZ, "    answer: true\n", ""), "question-answer-field", 20),
    case("question-cites-missing-clause", QUIZ_PATH, sub(QUIZ, "refs: [KF-01.1]", "refs: [KF-01.9]"),
         "dangling-ref", 5, contains="KF-01.9"),
    case("quiz-file-name", QUIZ_PATH, sub(QUIZ, "regulation: KF-01", "regulation: KF-02"), "quiz-regulation", 1),
    # -- forms -----------------------------------------------------------------------------------------
    case("form-file-name", FORM_PATH, sub(FORM, "id: patrol", "id: patrols"), "form-file-name", 1),
    case("form-id-format", FORM_PATH, sub(FORM, "id: patrol", "id: Patrol"), "bad-id", 1),
    case("form-orientation", FORM_PATH, sub(FORM, "orientation: portrait", "orientation: landscpe"), "bad-choice", 6,
         contains="是否要写 “landscape”"),
    case("unknown-item-kind-chek", FORM_PATH, sub(FORM, "kind: check", "kind: chek"), "bad-choice", 16,
         contains="是否要写 “check”"),
    case("duplicate-item-id", FORM_PATH, sub(FORM, "id: temperature", "id: corridor"), "duplicate-id", 17,
         contains="第 16 行"),
    case("reserved-item-id-data", FORM_PATH, sub(FORM, "id: temperature", "id: data"), "bad-choice", 17,
         contains="保留"),
    case("unit-on-text-item", FORM_PATH, sub(FORM, "label: 姓名}", "label: 姓名, unit: 人}"),
         "form-item-kind-field", 24, contains="unit"),
    case("choice-without-options", FORM_PATH, sub(FORM, " options: [一层, 二层],", ""), "form-options", 18),
    case("table-without-columns", FORM_PATH, FORM.split("        columns:\n")[0] + FORM.split("50}\n")[1],
         "form-columns", 19),
    case("signature-as-table-column", FORM_PATH, sub(FORM, "kind: time, label: 到达", "kind: signature, label: 到达"),
         "form-nested-table", 25, contains="signature"),
    case("number-min-above-max", FORM_PATH, sub(FORM, "min: 10, max: 35", "min: 40, max: 35"), "number-range", 17),
    case("date-bound", FORM_PATH, sub(FORM, "prefill: today}", "prefill: today, min: 两年前}"), "date-bound", 10,
         contains="两年前"),
    case("date-bound-on-a-time", FORM_PATH, sub(FORM, "label: 到达时间}", "label: 到达时间, min: -2y}"),
         "form-item-kind-field", 25, contains="min"),
    case("dangling-serves", FORM_PATH, sub(FORM, "serves: [KF-01.2]", "serves: [KF-01.9]"), "dangling-ref", 5,
         contains="KF-01.9"),
    case("training-results-not-a-person", FORM_PATH,
         sub(FORM, "label: 室温, unit: ℃,", "label: 室温, unit: ℃, training_results: true,"),
         "form-item-kind-field", 17, contains="training_results"),
    case("training-results-yes", FORM_PATH,
         sub(FORM, "header:\n", "header:\n  - {id: employee, kind: person, label: 员工, training_results: yes}\n"),
         "bad-bool", 10),
    case("training-results-in-a-register", FORM_PATH,
         sub(FORM, "{id: visitor, kind: text, label: 姓名}",
             "{id: visitor, kind: person, label: 姓名, training_results: true}"),
         "form-training-results", 24, contains="visitors"),
    case("training-results-twice", FORM_PATH,
         sub(FORM, "header:\n", "header:\n  - {id: employee, kind: person, label: 员工, training_results: true}\n"
             "  - {id: mentor, kind: person, label: 带教人, training_results: true}\n"),
         "form-training-results", 11, contains="employee"),
    # -- show_when -------------------------------------------------------------------------------------
    case("condition-unknown-item", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridr, is: 正常}}"), "form-condition-item", 17,
         contains="是否要写 “corridor”"),
    case("condition-on-a-later-item", FORM_PATH,
         sub(FORM, "ref: KF-01.2}", "ref: KF-01.2, show_when: {item: area, is: 一层}}"), "form-condition-after", 16,
         contains="area"),
    case("condition-on-itself", FORM_PATH,
         sub(FORM, "ref: KF-01.2}", "ref: KF-01.2, show_when: {item: corridor, is: 正常}}"), "form-condition-cycle",
         16, contains="corridor"),
    case("condition-cycle-of-two", FORM_PATH,
         sub(sub(FORM, "ref: KF-01.2}", "ref: KF-01.2, show_when: {item: area, is: 一层}}"),
             "multiple: true}", "multiple: true, show_when: {item: corridor, is: 正常}}"),
         "form-condition-cycle", 16, contains="“corridor” → “area” → “corridor”"),
    case("condition-section-on-its-own-item", FORM_PATH,
         sub(FORM, "    ref: KF-01.2\n    items:",
             "    ref: KF-01.2\n    show_when: {item: corridor, is: 异常}\n    items:"),
         "form-condition-cycle", 15),
    case("condition-impossible-answer", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, is: 合格}}"), "form-condition-value", 17,
         contains="合格"),
    case("condition-yaml-yes-on-a-check", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, is: yes}}"), "form-condition-value", 17,
         contains="yes"),
    case("condition-option-not-offered", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: shift, in: [早班, 中班]}}"), "form-condition-value", 17,
         contains="中班"),
    case("condition-on-a-number", FORM_PATH,
         sub(FORM, "multiple: true}", "multiple: true, show_when: {item: temperature, is: 20}}"),
         "form-condition-kind", 18, contains="数字"),
    case("condition-unknown-key", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, is_no: 正常}}"), "unknown-key", 17,
         contains="是否要写 “is_not”"),
    case("condition-two-tests", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, is: 正常, is_not: 异常}}"), "form-condition", 17),
    case("condition-all-beside-item", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, all: [{item: shift, is: 早班}]}}"),
         "form-condition", 17),
    case("condition-nested-unknown-item", FORM_PATH,
         sub(FORM, "max: 35}", "max: 35, show_when: {any: [{item: corridor, is: 异常}, {item: nope, is: 是}]}}"),
         "form-condition-item", 17, contains="nope"),
    case("condition-on-a-register-column", FORM_PATH,
         sub(FORM, "{id: visitor, kind: text, label: 姓名}",
             "{id: visitor, kind: text, label: 姓名, show_when: {item: corridor, is: 正常}}"),
         "form-condition", 24, contains="visitors"),
    # -- score -----------------------------------------------------------------------------------------
    case("score-unknown-item", FORM_PATH, FORM + "score: {label: 合格率, items: [corridor, corridr]}\n",
         "form-score", 29, contains="是否要写 “corridor”"),
    case("score-not-a-check", FORM_PATH,
         FORM + "score:\n  label: 合格率\n  items:\n    - corridor\n    - temperature\n", "form-score", 33,
         contains="temperature"),
    case("score-twice", FORM_PATH, FORM + "score: {label: 合格率, items: [corridor, corridor]}\n", "form-score", 29,
         contains="两次"),
    case("score-weight-zero", FORM_PATH,
         FORM + "score:\n  label: 合格率\n  items:\n    - {item: corridor, weight: 0}\n", "int-range", 32,
         contains="weight"),
    case("score-unknown-key", FORM_PATH, FORM + "score: {label: 合格率, item: [corridor]}\n", "unknown-key", 29,
         contains="是否要写 “items”"),
    # -- learning paths ----------------------------------------------------------------------------------
    case("path-due-days-zero", PATHS_PATH, sub(PATHS, "due_days: 7", "due_days: 0"), "int-range", 5,
         contains="due_days"),
    case("path-due-days-with-unit", PATHS_PATH, sub(PATHS, "due_days: 7", "due_days: 7天"), "bad-int", 5,
         contains="7天"),
    case("path-due-days-quoted", PATHS_PATH, sub(PATHS, "due_days: 7", 'due_days: "7"'), "bad-int", 5),
    case("path-due-days-misspelt", PATHS_PATH, sub(PATHS, "due_days: 7", "due_day: 7"), "unknown-key", 5,
         contains="是否要写 “due_days”"),
    case("path-pass-mark-above-100", PATHS_PATH, sub(PATHS, "pass_mark: 80", "pass_mark: 120"), "int-range", 4,
         contains="1 到 100"),
    case("path-duplicate-id", PATHS_PATH, PATHS + PATHS.replace("新员工", "另一条"), "duplicate-id", 7,
         contains="第 1 行"),
    case("path-unknown-regulation", PATHS_PATH, sub(PATHS, "[KF-01]", "[KF-09]"), "dangling-ref", 1,
         contains="KF-09"),
    # -- encoding --------------------------------------------------------------------------------------
    case("non-utf8-yaml", ORG_PATH, ORG.encode("gbk"), "yaml-not-text", 1),
    case("non-utf8-regulation", REG_PATH, REG.encode("gbk"), "yaml-not-text", 1),
]


def load_with(root: Path, relpath: str, content: str | bytes) -> list[Problem]:
    write_file(root, relpath, content)
    _, problems = load_handbook(root)
    return problems


def listing(problems: list[Problem]) -> str:
    return "\n".join(f"  {p.code}: {p}" for p in problems)


def assert_chinese(problem: Problem) -> None:
    assert problem.message.strip() and CJK.search(problem.message), problem
    assert problem.fix.strip() and CJK.search(problem.fix), problem


def test_mini_project_is_valid(mini_project: Path) -> None:
    hb, problems = load_handbook(mini_project)
    assert problems == []
    assert [r.id for r in hb.regulations] == ["KF-01"]
    assert set(hb.clauses) == {"KF-01.1", "KF-01.2", "KF-01.3", "KF-01.20", "KF-01.21"}
    assert list(hb.tables) == ["fines"]
    assert [q.kind for q in hb.questions] == ["single", "multiple", "truefalse"]
    assert [f.id for f in hb.forms] == ["patrol"]
    assert len(hb.organisation.departments) == 2 and len(hb.organisation.roles) == 3


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 35
    assert len({p.id for p in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES)
def test_malformed(mini_project: Path, c: Case) -> None:
    problems = load_with(mini_project, c.path, c.content)
    matching = [p for p in problems if p.code == c.code]
    assert matching, f"no {c.code} problem; got:\n{listing(problems)}"
    where = c.where or c.path
    assert {(p.path, p.line) for p in matching} == {(where, c.line)}, listing(problems)
    for problem in matching:
        assert_chinese(problem)
        assert problem.code in CATALOGUE
    if c.contains:
        assert any(c.contains in p.message for p in matching), listing(matching)


def test_show_when_is_read_with_stored_answers(mini_project: Path) -> None:
    form = sub(FORM, "max: 35}", "max: 35, show_when: {item: corridor, is: 异常}}")
    form = sub(form, "multiple: true}", "multiple: true,\n         show_when: {all: [{item: shift, in: [晚班]}, "
               "{item: corridor, is_not: ok}]}}")
    assert load_with(mini_project, FORM_PATH, form) == []
    items = {i.id: i for i in load_handbook(mini_project)[0].forms[0].all_items()}
    assert (items["temperature"].show_when.op, items["temperature"].show_when.values) == ("is", ["fault"])
    parts = items["area"].show_when.parts
    assert [(p.op, p.item, p.values) for p in parts] == [("in", "shift", ["晚班"]), ("is_not", "corridor", ["ok"])]


def test_paths_read_due_days_with_a_default(mini_project: Path) -> None:
    second = sub(PATHS, "  due_days: 7\n", "").replace("new-staff", "duty")  # due_days left out
    assert load_with(mini_project, PATHS_PATH, PATHS + second) == []
    hb, _ = load_handbook(mini_project)
    assert [(p.id, p.due_days, p.pass_mark) for p in hb.paths] == [("new-staff", 7, 80), ("duty", 7, 80)]
    assert load_with(mini_project, PATHS_PATH, sub(PATHS, "due_days: 7", "due_days: 30")) == []
    assert load_handbook(mini_project)[0].paths[0].due_days == 30


def test_training_results_is_read_on_a_person_item(mini_project: Path) -> None:
    form = sub(FORM, "header:\n", "header:\n  - {id: employee, kind: person, label: 员工, training_results: true}\n")
    assert load_with(mini_project, FORM_PATH, form) == []
    items = load_handbook(mini_project)[0].forms[0].all_items()
    assert [i.id for i in items if i.training_results] == ["employee"]


# -- values that look like YAML 1.1 types stay text --------------------------------------------------


def test_unquoted_time_is_text_not_sexagesimal(mini_project: Path) -> None:
    problems = load_with(mini_project, ORG_PATH, sub(ORG, 'start: "08:00"', "start: 16:00"))
    assert problems == []
    hb, _ = load_handbook(mini_project)
    assert hb.organisation.shifts["early"].start == "16:00"


def test_leading_zero_is_never_octal(mini_project: Path) -> None:
    load_with(mini_project, TABLE_PATH, sub(TABLE, "fine: 20", "fine: 0123"))
    hb, _ = load_handbook(mini_project)
    row = hb.tables["fines"].rows[0]
    assert row.fine is None  # neither 83 (YAML 1.1 octal) nor 123


def test_no_is_never_false(mini_project: Path) -> None:
    load_with(mini_project, FORM_PATH, sub(FORM, "走廊无杂物, required: true", "走廊无杂物, required: NO"))
    hb, _ = load_handbook(mini_project)
    corridor = hb.forms[0].sections[0].items[0]
    assert corridor.id == "corridor" and corridor.required is False  # the default, with a bad-bool problem


def test_phone_number_and_id_like_values_stay_text(mini_project: Path) -> None:
    org = sub(ORG, 'number: "0371-6000 2071"', "number: 0371")
    problems = load_with(mini_project, ORG_PATH, org)
    assert problems == []
    hb, _ = load_handbook(mini_project)
    assert hb.organisation.phones["hotline"].number == "0371"


# -- reported once, and all at once ------------------------------------------------------------------


def test_all_problems_are_reported_at_once(mini_project: Path) -> None:
    write_file(mini_project, ORG_PATH, sub(ORG, 'start: "08:00"', "start: 1600"))
    write_file(mini_project, TABLE_PATH, sub(TABLE, "fine: 20", "fine: 0123"))
    write_file(mini_project, FORM_PATH, sub(FORM, "走廊无杂物, required: true", "走廊无杂物, required: on"))
    _, problems = load_handbook(mini_project)
    assert [(p.path, p.line, p.code) for p in problems] == [
        (FORM_PATH, 16, "bad-bool"),
        (ORG_PATH, 16, "bad-time"),
        (TABLE_PATH, 8, "bad-int"),
    ]


def test_several_problems_in_one_file_are_all_reported(mini_project: Path) -> None:
    form = sub(FORM, "kind: check", "kind: chek")
    form = sub(form, "min: 10, max: 35", "min: 40, max: 35")
    form = sub(form, "label: 姓名}", "label: 姓名, unit: 人}")
    problems = load_with(mini_project, FORM_PATH, form)
    assert {(p.line, p.code) for p in problems} == {(16, "bad-choice"), (17, "number-range"),
                                                    (24, "form-item-kind-field")}


@pytest.mark.parametrize("relpath", [ORG_PATH, TABLE_PATH, QUIZ_PATH, FORM_PATH])
def test_yaml_syntax_error_is_reported_once(mini_project: Path, relpath: str) -> None:
    broken = MINI_FILES[relpath].replace("\n", "\n  bad: [\n", 1)
    problems = [p for p in load_with(mini_project, relpath, broken) if p.path == relpath]
    assert [p.code for p in problems] == ["yaml-syntax"], listing(problems)


def test_broken_regulation_is_not_reported_as_missing(mini_project: Path) -> None:
    problems = load_with(mini_project, REG_PATH, sub(REG, "title: 测试制度", "title: 测试: 制度"))
    assert [p.code for p in problems if p.code == "no-files"] == [], listing(problems)


def test_nested_table_message_names_the_register(mini_project: Path) -> None:
    problems = load_with(mini_project, FORM_PATH, sub(FORM, "kind: time, label: 到达", "kind: signature, label: 到达"))
    [problem] = [p for p in problems if p.code == "form-nested-table"]
    assert "visitors" in problem.message


def test_control_character_is_reported_on_its_line_in_one_line() -> None:
    _, problems = parse_yaml("a: b\nc: \x01\n", "x.yaml")
    [problem] = problems
    assert problem.line == 2
    assert "\n" not in problem.message


# -- the CLI -----------------------------------------------------------------------------------------


def test_cli_reports_problems_on_stderr(mini_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_file(mini_project, TABLE_PATH, sub(TABLE, "fine: 20", "fine: 0123"))
    write_file(mini_project, REG_PATH, sub(REG, "{{ org.name }}", "{{ org.nmae }}"))
    assert main(["--root", str(mini_project), "check"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[-1] == "发现 2 个问题。"
    parsed = [PROBLEM_LINE.match(line) for line in lines[:-1]]
    assert all(parsed), lines
    assert [(m["path"], int(m["line"])) for m in parsed if m] == [(REG_PATH, 25), (TABLE_PATH, 8)]
    for m in parsed:
        assert m and CJK.search(m["message"]) and CJK.search(m["fix"])


def test_cli_clean_project_exits_0_with_summary(mini_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(mini_project), "check"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "检查通过" in out
    assert "1 项制度" in out and "5 个条款" in out and "1 张表格" in out and "1 张表单" in out and "3 道测验题" in out


def test_cli_missing_root_does_not_raise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path / "nowhere"), "check"]) == 1
    assert "发现" in capsys.readouterr().err


def _garbage(rng: random.Random) -> bytes | str:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 400))
    if kind == 1:
        return ""
    pieces = [":", "- ", "{", "}", "[", "]", "&a", "*a", '"', "'", "\t", "\n", "NO", "12:30", "0123", "---", "#",
              "[KF-01.1]", "[[KF-01.9]]", "{{ x }}", "[[table:", "客服", "\x00", "\u2028", "\r", " ", "id", "kind"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 80)))
    return ("---\n" + text) if kind == 3 else text


@pytest.mark.parametrize("seed", range(8))
def test_cli_never_raises_on_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "garbage"
    for relpath in [*MINI_FILES, "regulations/KF-02-x.md", "regulations/paths.yaml", "checklists/other.yaml"]:
        write_file(root, relpath, _garbage(rng))
    (root / "checklists" / "a-directory.yaml").mkdir()
    (root / "regulations" / "tables" / "empty.yaml").write_bytes(b"")
    assert main(["--root", str(root), "check"]) == 1
    err = capsys.readouterr().err
    assert err.rstrip().endswith("个问题。")


def test_cli_never_raises_on_deep_nesting(mini_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_file(mini_project, FORM_PATH, "[" * 600 + "]" * 600 + "\n")
    assert main(["--root", str(mini_project), "check"]) == 1
    assert "checklists/patrol.yaml:1:" in capsys.readouterr().err


def test_choice_options_come_from_the_organisation(mini_project: Path) -> None:
    form = FORM.replace("kind: choice, label:", "kind: choice, options_from: shifts, label:", 1)
    problems = load_with(mini_project, FORM_PATH, form)
    assert [p.code for p in problems] == ["form-options"]  # options and options_from together
    form = re.sub(r"options: \[[^\]]*\]", "options_from: shifts", FORM, count=1)
    assert load_with(mini_project, FORM_PATH, form) == []
    hb, _ = load_handbook(mini_project)
    item = next(i for i in hb.forms[0].all_items() if i.options_from == "shifts")
    assert item.options == [s.name for s in hb.organisation.shifts.values()]
