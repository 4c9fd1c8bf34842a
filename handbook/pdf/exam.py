"""Printable exams for classroom sessions: one paper per learning path (regulations/paths.yaml) with
every question of its regulations, and a separate answer key citing the clause each answer rests on.

The question order is the path's order, options in their authored order and lettered A, B, C …; the
online quizzes shuffle, paper does not (the key must match the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..files import write_atomically
from ..model import Handbook, LearningPath, Question
from ..render import TextRenderer
from .fonts import PrintFont, print_font
from .html import chinese_number, environment
from .render import render_pdf

LETTERS = "ABCDEF"


@dataclass
class ExamQuestion:
    number: int
    kind: str  # single | multiple | truefalse
    text: str
    options: list[str]
    answer: str  # "A", "AC", "对", "错"
    refs: list[str]
    explanation: str
    points: int


@dataclass
class ExamSection:
    number: str
    title: str
    regulation_id: str
    questions: list[ExamQuestion]


def _answer(question: Question) -> str:
    if question.kind == "truefalse":
        return "对" if question.answer else "错"
    return "".join(LETTERS[i] for i, o in enumerate(question.options) if o.correct)


def exam_sections(hb: Handbook, path: LearningPath) -> list[ExamSection]:
    plain = TextRenderer(hb, "").plain
    sections = []
    number = 0
    for n, regulation_id in enumerate(path.regulations, 1):
        regulation = hb.regulation(regulation_id)
        questions = []
        for q in (q for q in hb.questions if q.regulation_id == regulation_id):
            number += 1
            questions.append(ExamQuestion(number, q.kind, plain(q.question), [plain(o.text) for o in q.options],
                                          _answer(q), q.refs, plain(q.explanation), 2 if q.kind == "multiple" else 1))
        if questions:
            sections.append(ExamSection(chinese_number(n), regulation.title, regulation_id, questions))
    return sections


def exam_html(hb: Handbook, path: LearningPath | str, *, answers: bool = False, font: PrintFont | None = None) -> str:
    """The print HTML of the path's exam paper, or of its answer key."""
    if isinstance(path, str):
        path = next(p for p in hb.paths if p.id == path)
    font = font or print_font(hb.root)
    sections = exam_sections(hb, path)
    total = sum(q.points for s in sections for q in s.questions)
    kind = "答案与解析" if answers else "试卷"
    return environment().get_template("exam.html.j2").render(
        org=hb.organisation, path=path, sections=sections, answers=answers, font=font, total=total,
        title=f"{path.title} 制度考试{kind}")


def write_exams(hb: Handbook, outdir: str | Path) -> list[Path]:
    """exam-<path>.pdf and exam-<path>-answers.pdf for every learning path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in hb.paths:
        for answers, suffix in ((False, ""), (True, "-answers")):
            target = outdir / f"exam-{path.id}{suffix}.pdf"
            write_atomically(target, render_pdf(exam_html(hb, path, answers=answers)))
            written.append(target)
    return written
