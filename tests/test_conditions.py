"""handbook.conditions: which items stored values hide, and the instruction printed for a conditional item."""

from __future__ import annotations

from handbook.conditions import has_conditions, hidden_items, holds, instruction, visible_values
from handbook.formmodel import Condition, Form, FormSection, Item


def when(item: str, *values: str, op: str = "is") -> Condition:
    return Condition(op, item=item, values=list(values))


def form(*, section_when: Condition | None = None) -> Form:
    items = [
        Item("suspicious", "yesno", "发现可疑人物", 1),
        Item("reported", "yesno", "已立刻报告安全部", 2, required=True, show_when=when("suspicious", "yes")),
        Item("report_time", "time", "报告时间", 3, show_when=when("reported", "yes")),
        Item("door", "check", "门窗完好", 4),
        Item("door_action", "text", "处理", 5, show_when=when("door", "fault")),
        Item("areas", "choice", "区域", 6, options=["一层", "二层"], multiple=True),
        Item("upstairs", "text", "二层情况", 7, show_when=when("areas", "二层")),
    ]
    return Form("t", "测试", "F01", "1.0", [], "portrait", [], "", [], [
        FormSection("甲", items, 1), FormSection("乙", [Item("extra", "text", "补充", 9)], 8, show_when=section_when)],
        [], "t.yaml", 1)


def test_an_item_shows_only_when_its_answer_is_given() -> None:
    f = form()
    assert {"reported", "report_time", "door_action", "upstairs"} == hidden_items(f, {})
    assert "reported" not in hidden_items(f, {"suspicious": "yes"})
    assert "reported" in hidden_items(f, {"suspicious": "no"})


def test_a_hidden_item_hides_what_depends_on_it() -> None:
    # report_time looks at `reported`, which `suspicious: no` hides: a stale "yes" there counts for nothing.
    assert "report_time" in hidden_items(form(), {"suspicious": "no", "reported": "yes"})
    assert "report_time" not in hidden_items(form(), {"suspicious": "yes", "reported": "yes"})


def test_a_multiple_choice_is_an_answer_when_it_is_among_those_chosen() -> None:
    assert "upstairs" not in hidden_items(form(), {"areas": ["一层", "二层"]})
    assert "upstairs" in hidden_items(form(), {"areas": ["一层"]})


def test_is_not_in_all_and_any() -> None:
    values = {"suspicious": "yes", "door": "fault"}
    assert holds(when("suspicious", "no", op="is_not"), values)
    assert not holds(when("suspicious", "yes", op="is_not"), values)
    assert holds(when("suspicious", "no", op="is_not"), {})  # unanswered is not 否
    assert holds(when("door", "ok", "fault", op="in"), values)
    assert holds(Condition("all", parts=[when("suspicious", "yes"), when("door", "fault")]), values)
    assert not holds(Condition("all", parts=[when("suspicious", "yes"), when("door", "ok")]), values)
    assert holds(Condition("any", parts=[when("suspicious", "no"), when("door", "fault")]), values)
    assert holds(when("suspicious", "yes"), values, hidden={"x"})
    assert not holds(when("suspicious", "yes"), values, hidden={"suspicious"})


def test_a_section_condition_applies_to_each_of_its_items() -> None:
    f = form(section_when=when("door", "fault"))
    assert "extra" in hidden_items(f, {"door": "ok"})
    assert "extra" not in hidden_items(f, {"door": "fault"})
    assert has_conditions(f)


def test_visible_values_drop_a_hidden_check_with_its_note_and_photos() -> None:
    f = form(section_when=None)
    f.sections[0].items[3].show_when = when("suspicious", "yes")  # the door check itself
    values = {"suspicious": "no", "door": "fault", "door_note": "撬了", "door_photos": ["p"], "door_action": "报警"}
    assert visible_values(f, values) == {"suspicious": "no"}


def test_instruction_reads_as_on_paper() -> None:
    f = form()
    assert instruction(when("suspicious", "yes"), f) == "若“发现可疑人物”为“是”,填写本项"
    assert instruction(when("door", "fault", op="is_not"), f, "本栏") == "若“门窗完好”不为“异常”,填写本栏"
    assert instruction(when("areas", "一层", "二层", op="in"), f) == "若“区域”为“一层”或“二层”,填写本项"
    both = Condition("all", parts=[when("suspicious", "yes"), when("door", "fault")])
    assert instruction(both, f) == "若“发现可疑人物”为“是”,且“门窗完好”为“异常”,填写本项"
    assert instruction(None, f) == ""


def test_the_site_form_page_says_what_the_paper_form_prints() -> None:
    from handbook.load import require_handbook
    from handbook.pages_overview import form_page_markdown
    from tests.server_support import ROOT

    hb = require_handbook(ROOT)
    page = form_page_markdown(hb, hb.form("patrol"))
    row = next(line for line in page.splitlines() if "#item-suspicious_reported" in line)
    assert "<br>若“发现可疑人物”为“是”,填写本项 |" in row and "| 是(条件成立时) |" in row

