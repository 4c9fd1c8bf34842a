"""Operating rules that relax a clause must cite the clause that permits them.

A rule in checklists/rules/ may let the form server accept more than the bare text of a regulation: minutes of
grace after a due time, fixed due times where a clause only says someone sets them, a time limit for a step, a
supervisor taking over a blocked handover, a spot-check share. The system must never allow what no clause
allows, so each of these cites a clause beside it, and that clause must state the value the rule uses:
60 分钟, 10:00, 3 天, {{ role.supervisor }}, 20 % (a decision in a revision entry explains a clause; it permits
nothing by itself). A due time of 00:00 is the start of the day the clause names (每月 4 号前), not a fixed time.
`handbook check` reports a missing citation as `rules-uncited`, a citation that does not state the value as
`rules-unstated`; a citation of a clause that does not exist is the usual `dangling-ref`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Handbook
from .problems import Problem, make_problem
from .rules import Rules

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_NUMBER = re.compile(r"[零一二两三四五六七八九十百]+")


def _chinese_value(word: str) -> int | None:
    """三 → 3, 十五 → 15, 二十 → 20, 一百二十 → 120; None for what is not a plain number."""
    total, digit = 0, None
    for ch in word:
        if ch in _DIGITS:
            if digit is not None:
                return None
            digit = _DIGITS[ch]
        elif ch in "十百":
            total += (1 if digit is None else digit) * (10 if ch == "十" else 100)
            digit = None
    return total + (digit or 0)


def normalise(text: str) -> str:
    """Clause text as the value patterns read it: full-width digits, colon and percent made ASCII, Chinese
    numerals written as digits (三天 → 3天)."""
    text = text.translate({0xFF10 + n: str(n) for n in range(10)} | {0xFF1A: ":", 0xFF05: "%"})
    return _CHINESE_NUMBER.sub(lambda m: str(v) if (v := _chinese_value(m[0])) is not None else m[0], text)


def _number(n: int, units: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.]){n}\s*(?:个\s*)?(?:{units})")


def minutes_pattern(n: int) -> re.Pattern[str]:
    return _number(n, "分钟")


def hours_pattern(hours: int, in_days: bool) -> re.Pattern[str]:
    if in_days and hours % 24 == 0:
        return re.compile(rf"{_number(hours // 24, '天|日(?!常)').pattern}|{_number(hours, '小时').pattern}")
    return _number(hours, "小时")


def time_pattern(hhmm: str) -> re.Pattern[str]:
    hour, minute = hhmm.split(":")
    return re.compile(rf"(?<![\d:])0?{int(hour)}:{minute}(?![\d])")


def percent_pattern(n: int) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.]){n}\s*%|百分之\s*{n}(?!\d)")


def takeover_pattern(role_id: str, name: str) -> re.Pattern[str]:
    """The clause names the role (placeholder or name) and says it takes over (接替)."""
    role = rf"\{{\{{\s*role\.{re.escape(role_id)}\s*\}}\}}|{re.escape(name)}"
    return re.compile(rf"(?s)^(?=.*接替)(?=.*(?:{role}))")


@dataclass(frozen=True)
class Permit:
    """One relaxing value of a rule and the citation it needs."""

    path: str
    line: int
    what: str  # the rule and its value, in words: 表单 patrol 的宽限时间 grace_minutes: 60
    key: str  # the key the citation goes in: grace_ref, ref
    value: str  # the value as a clause would state it: 60 分钟
    pattern: re.Pattern[str]
    refs: tuple[str, ...]


def permits(hb: Handbook, rules: Rules, paths: dict[str, str]) -> list[Permit]:
    """Every value in the rules that needs a clause permitting it."""
    out: list[Permit] = []
    path = paths.get("schedules", "")
    for s in rules.schedules:
        at = s.lines.get
        if s.grace_minutes:
            what = f"表单 {s.form} 的宽限时间 grace_minutes: {s.grace_minutes}"
            out.append(Permit(path, at("grace_minutes", s.line), what, "grace_ref", f"{s.grace_minutes} 分钟",
                              minutes_pattern(s.grace_minutes), s.grace_refs))
        for shift, times in s.times.items():
            for hhmm in times:
                out.append(Permit(path, at(f"times.{shift}", s.line), f"表单 {s.form} 的应交时间 {shift}: {hhmm}",
                                  "ref", f"{hhmm}", time_pattern(hhmm), s.refs))
        if s.time and s.time != "00:00":
            out.append(Permit(path, at("time", s.line), f"表单 {s.form} 的应交时间 time: {s.time}", "ref",
                              f"{s.time}", time_pattern(s.time), s.refs))
    if (h := rules.handover) is not None and (t := h.takeover) is not None:
        role = hb.organisation.roles.get(t.by)
        name = role.name if role else t.by
        out.append(Permit(h.path, t.lines.get("ref", t.line), f"不得交接班时由{name}接替交班(takeover)", "ref",
                          f"由{name}接替", takeover_pattern(t.by, name), t.refs))
    for w in rules.workflows:
        for step in w.steps:
            if step.due is not None:
                d = step.due
                amount = f"{d.hours // 24} 天" if d.in_days and d.hours % 24 == 0 else f"{d.hours} 小时"
                out.append(Permit(w.path, step.lines.get("due", step.line),
                                  f"流程 {w.id} 步骤 “{step.id}” 的时限 {amount}", "due 的 ref", amount,
                                  hours_pattern(d.hours, d.in_days), d.refs))
    path = paths.get("workflows", "")
    for sc in rules.spot_checks:
        out.append(Permit(path, sc.lines.get("percent", sc.line), f"表单 {sc.form} 的抽查比例 percent: {sc.percent}",
                          "ref", f"{sc.percent} %", percent_pattern(sc.percent), sc.refs))
    return out


def check_permits(hb: Handbook, rules: Rules, paths: dict[str, str], problems: list[Problem]) -> None:
    for p in permits(hb, rules, paths):
        cited = [r for r in p.refs if r in hb.clauses]  # a dangling one is reported as such elsewhere
        if not p.refs:
            problems.append(make_problem(p.path, p.line, "rules-uncited", what=p.what, key=p.key, value=p.value))
        elif cited and not any(p.pattern.search(normalise(text)) for r in cited for text in [hb.clauses[r].text]):
            problems.append(make_problem(p.path, p.line, "rules-unstated", what=p.what, refs="、".join(cited),
                                         value=p.value, key=p.key))
