"""handbook.scores: a check form's score from stored values, as the server stores it and the record prints it."""

from __future__ import annotations

from handbook.formmodel import Form, FormSection, Item, Score
from handbook.scores import percent, rule_text, score_of, score_text


def form(weights: dict[str, int]) -> Form:
    items = [Item(i, "check", f"项目{i}", n) for n, i in enumerate(("a", "b", "c", "d"), 1)]
    return Form("t", "测试", "F01", "1.0", [], "portrait", [], "", [], [FormSection("甲", items, 1)], [], "t.yaml", 1,
                score=Score("合格率", 9, list(weights.items())))


def test_the_share_of_counted_checks_answered_ok() -> None:
    f = form({"a": 1, "b": 1, "c": 1})
    assert percent(f, {"a": "ok", "b": "ok", "c": "fault", "d": "fault"}) == 66.7  # d is not counted
    assert score_text(f, {"a": "ok", "b": "ok", "c": "fault"}) == "合格率 66.7%(2/3)"
    assert percent(f, {"a": "ok", "b": "ok", "c": "ok"}) == 100.0
    assert score_text(f, {"a": "ok", "b": "ok", "c": "ok"}) == "合格率 100%(3/3)"


def test_unanswered_and_hidden_items_count_neither_way() -> None:
    f = form({"a": 1, "b": 1, "c": 1})
    assert percent(f, {"a": "ok", "b": "fault"}) == 50.0
    assert score_of(f, {}) is None and score_text(f, {}) == ""


def test_weights() -> None:
    f = form({"a": 3, "b": 1})
    result = score_of(f, {"a": "ok", "b": "fault"})
    assert (result.percent, result.passed, result.answered) == (75.0, 3, 4)
    assert "加权" in rule_text(f) and "加权" not in rule_text(form({"a": 1}))


def test_a_form_without_a_score() -> None:
    f = form({})
    f.score = None
    assert score_of(f, {"a": "ok"}) is None and rule_text(f) == "" and score_text(f, {"a": "ok"}) == ""


def test_the_site_form_page_says_how_the_score_is_worked_out() -> None:
    from handbook.load import require_handbook
    from handbook.pages_overview import form_page_markdown
    from tests.server_support import ROOT

    hb = require_handbook(ROOT)
    page = form_page_markdown(hb, hb.form("patrol"))
    rule = "巡查合格率 = 计分项目中“正常”的项数 ÷ 已检查的项数 × 100%"
    assert f"## 巡查合格率\n\n{rule}。计分项目:样板间整洁、设施完好、" in page
