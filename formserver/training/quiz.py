"""Quizzes as data: draw a regulation's questions in random order with their options shuffled, read the
answers posted back, score them. Pure functions of the handbook and the stored attempt.

Each drawn option gets a random key: the page posts keys, never positions, and the keys say nothing about
where an option stands in the source (the correct one is often written first). Scoring reads the questions
as drawn and stored in the attempt, so editing the question bank later never re-scores or breaks an attempt.
Points as on the printed exam: single choice and true/false 1, multiple choice 2 (all and only the correct
options); the score is the percentage of the points, rounded down.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handbook.model import Handbook
from handbook.render import TextRenderer

POINTS = {"single": 1, "truefalse": 1, "multiple": 2}
TRUE_FALSE = ("正确", "错误")


def question_count(hb: Handbook, regulation_id: str) -> int:
    return sum(1 for q in hb.questions if q.regulation_id == regulation_id)


def draw(hb: Handbook, regulation_id: str, rng: random.Random | None = None) -> list[dict[str, Any]]:
    """The regulation's questions in a random order, options shuffled (true/false keeps 正确 before 错误)."""
    rng = rng or random.SystemRandom()
    plain = TextRenderer(hb, "").plain
    questions = [q for q in hb.questions if q.regulation_id == regulation_id]
    rng.shuffle(questions)
    drawn = []
    for q in questions:
        if q.kind == "truefalse":
            options = [(TRUE_FALSE[0], q.answer is True), (TRUE_FALSE[1], q.answer is False)]
        else:
            options = [(plain(o.text), o.correct) for o in q.options]
            rng.shuffle(options)
        keys: list[str] = []
        while len(keys) < len(options):
            key = secrets.token_hex(4)
            if key not in keys:
                keys.append(key)
        drawn.append({
            "id": q.id, "kind": q.kind, "text": plain(q.question), "refs": list(q.refs),
            "explanation": plain(q.explanation),
            "options": [{"key": key, "text": text, "correct": correct}
                        for key, (text, correct) in zip(keys, options, strict=True)],
        })
    return drawn


def field_name(question: Mapping[str, Any]) -> str:
    return f"q-{question['id']}"


def read_answers(questions: list[dict[str, Any]], form: Any) -> tuple[dict[str, list[str]], list[str]]:
    """(question id → chosen option keys, ids of unanswered questions) from posted form data. Keys that are
    not options of that question are dropped; a single-choice question keeps at most one."""
    answers: dict[str, list[str]] = {}
    unanswered = []
    for q in questions:
        valid = [o["key"] for o in q["options"]]
        chosen = [k for k in dict.fromkeys(form.getlist(field_name(q))) if k in valid]
        if q["kind"] != "multiple":
            chosen = chosen[:1]
        answers[q["id"]] = chosen
        if not chosen:
            unanswered.append(q["id"])
    return answers, unanswered


@dataclass
class Score:
    results: list[dict[str, Any]]  # per question: id, correct, points, refs
    points: int
    total: int

    @property
    def percent(self) -> int:
        return self.points * 100 // self.total if self.total else 0


def score(questions: list[dict[str, Any]], answers: Mapping[str, list[str]]) -> Score:
    results, points, total = [], 0, 0
    for q in questions:
        worth = POINTS[q["kind"]]
        right = set(answers.get(q["id"], [])) == {o["key"] for o in q["options"] if o["correct"]}
        total += worth
        points += worth if right else 0
        results.append({"id": q["id"], "correct": right, "points": worth if right else 0, "refs": q["refs"]})
    return Score(results, points, total)
