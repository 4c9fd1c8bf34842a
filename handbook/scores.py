"""A form's score (`score:` in checklists/<id>.yaml), worked out from stored values: the weighted share of the
counted check items answered 正常, in percent. Pure, so the server stores it, and the record page and the printed
record show the same figure. An item left unanswered, or hidden by its conditions (never stored), counts neither
way; with none answered there is no score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .formmodel import Form


@dataclass(frozen=True)
class Result:
    percent: float  # one decimal
    passed: int  # weight answered 正常
    answered: int  # weight answered at all


def score_of(form: Form, values: Mapping[str, Any]) -> Result | None:
    if form.score is None:
        return None
    passed = answered = 0
    for item_id, weight in form.score.items:
        answer = values.get(item_id)
        if answer in ("ok", "fault"):
            answered += weight
            passed += weight if answer == "ok" else 0
    if not answered:
        return None
    return Result(round(100 * passed / answered, 1), passed, answered)


def percent(form: Form, values: Mapping[str, Any]) -> float | None:
    result = score_of(form, values)
    return result.percent if result else None


def rule_text(form: Form) -> str:
    """How the score is worked out, for the paper form and the site."""
    if form.score is None:
        return ""
    weighted = any(weight != 1 for _, weight in form.score.items)
    counted = "加权" if weighted else ""
    return f"{form.score.label} = 计分项目中“正常”的{counted}项数 ÷ 已检查的{counted}项数 × 100%"


def score_text(form: Form, values: Mapping[str, Any]) -> str:
    """巡查合格率 91.7%(11/12), or '' when the form has no score or nothing counted was answered."""
    result = score_of(form, values)
    if result is None or form.score is None:
        return ""
    return f"{form.score.label} {result.percent:g}%({result.passed}/{result.answered})"
