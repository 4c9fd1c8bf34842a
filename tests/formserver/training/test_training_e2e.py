"""Training on a phone, end to end: a real server and database, headless Chromium at 390×844 with touch.

A new hire reads and acknowledges a regulation, fails its quiz (each wrong answer explained, with a link to
the clause in the handbook), passes it, and their supervisor sees the result; then the regulation is revised
(the server restarted on an edited source tree, same database) and the new hire is asked to acknowledge it
again, with what changed marked. The phone and browser fixtures are those of tests/formserver/app/test_e2e.py (a request
leaving 127.0.0.1, a console error or a CSP violation fails the test). Screenshots: /tmp/training-shots/.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser import have_chromium
from tests.formserver.app.test_e2e import WAIT, browser, phones  # noqa: F401  (fixtures used by name)
from tests.formserver.training.test_training import correct_texts, revised_tree
from tests.sitebuild import built_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]

SHOTS = Path("/tmp/training-shots")
PHONE_WIDTH = 390


class Switch:
    """The WSGI app the server runs, swappable: a restart on a new source tree, without a new port."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, Switch, dict]]:
    from formserver import create_app
    from tests.server_support import ROOT, create_user

    instance = tmp_path_factory.mktemp("training-e2e")
    site = str(built_site()[0])
    config = {"DATABASE_URL": f"sqlite:///{instance / 'forms.sqlite3'}", "SECRET_KEY": "e2e-secret",
              "HANDBOOK_ROOT": str(ROOT), "HANDBOOK_SITE": site}
    app = create_app(config)
    create_user(app, "zhang", display_name="张三")
    create_user(app, "li", role="supervisor", display_name="李主管")
    switch = Switch(app)
    httpd = make_server("127.0.0.1", 0, switch, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", switch, {**config, "instance": instance}
    httpd.shutdown()
    httpd.server_close()


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=full_page)


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide on a {PHONE_WIDTH}px phone: it scrolls sideways"


def log_in(page, url: str, username: str) -> None:
    from tests.server_support import PASSWORD

    page.goto(url + "/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").tap()
    page.wait_for_url(url + "/")


def answer(page, app, right: bool) -> None:
    """Tap an answer to every question on the quiz page: the right ones, or one wrong option each."""
    for fieldset in page.locator("fieldset.question").all():
        qid = fieldset.get_attribute("id")
        good = correct_texts(app, qid)
        labels = fieldset.locator("label.answer").all()
        texts = [label.locator("span").inner_text() for label in labels]
        picks = [i for i, t in enumerate(texts) if (t in good) == right]
        for i in picks if right else picks[:1]:
            labels[i].tap()
            assert labels[i].locator("input").is_checked()


def test_new_hire_reads_fails_passes_and_reacknowledges_a_revision(live, phones, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    url, switch, config = live
    app = switch.app
    _context, page, _watch = phones()
    log_in(page, url, "zhang")

    # The new hire's path: assigned on the first visit, the first step open, the others locked.
    page.locator(".topbar nav a", has_text="培训").tap()
    page.wait_for_url(url + "/training")
    card = page.locator("section.path")
    expect(card.locator("h2")).to_have_text("新员工 · 客服专员")
    expect(card).to_contain_text("0/10 步")
    expect(card.locator(".step.is-locked")).to_have_count(9)
    fits(page)
    shot(page, "1-my-training")

    # Read KF-01 and acknowledge it.
    card.locator("a.button.primary", has_text="KF-01").tap()
    page.wait_for_url(url + "/training/new-staff/KF-01")
    expect(page.locator("h1")).to_have_text("KF-01 总则")
    clauses = app.extensions["catalogue"].regulation_versions["KF-01"]
    expect(page.locator(".reading .clause")).to_have_count(
        sum(1 for c in app.extensions["catalogue"].handbook.clauses.values() if c.regulation_id == "KF-01"))
    assert clauses.revision == "1.0"
    fits(page)
    shot(page, "2-read-regulation")
    ack = page.locator("section.ack")
    ack.scroll_into_view_if_needed()
    ack.locator("label.confirm").tap()
    shot(page, "3-acknowledge")
    ack.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/training/new-staff/KF-01(#quiz)?$"))
    expect(page.locator(".flash")).to_contain_text("已确认阅读 KF-01")
    expect(page.locator(".step-badges").first).to_contain_text("已确认")

    # The quiz, answered wrongly: the score, and each wrong answer with its explanation and clause link.
    page.locator("#quiz button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/training/attempts/[0-9a-f-]{36}$"))
    expect(page.locator("fieldset.question")).to_have_count(5)
    fits(page)
    shot(page, "4-quiz")
    answer(page, app, right=False)
    page.locator("fieldset.question").last.scroll_into_view_if_needed()
    shot(page, "5-quiz-answered")
    page.locator("form.quiz button[type=submit]").tap()
    expect(page.locator(".score")).to_contain_text("未通过")
    expect(page.locator("section.question.wrong")).to_have_count(5)
    fits(page)
    shot(page, "6-failed-result")
    first_wrong = page.locator("section.question.wrong").first
    first_wrong.scroll_into_view_if_needed()
    shot(page, "7-wrong-answer-explained")
    link = first_wrong.locator("a.clause-ref").first
    clause_id = link.inner_text()
    link.tap()
    page.wait_for_url(re.compile(rf"/handbook/regulations/KF-\d\d/#{re.escape(clause_id)}$"))
    expect(page.locator(f"[id='{clause_id}']")).to_be_visible()
    shot(page, "8-clause-in-handbook")
    page.go_back()

    # Again, right this time: passed, and the next step opens.
    failed = page.url
    page.locator("form button.primary", has_text="重新测验").tap()
    page.wait_for_url(lambda new: new != failed and re.search(r"/training/attempts/[0-9a-f-]{36}$", new))
    expect(page.locator("fieldset.question")).to_have_count(5)
    answer(page, app, right=True)
    page.locator("form.quiz button[type=submit]").tap()
    expect(page.locator(".score")).to_contain_text("100 分")
    expect(page.locator(".score")).to_contain_text("通过")
    shot(page, "9-passed-result")
    page.locator("a.button", has_text="继续学习").tap()
    page.locator("a.button.primary", has_text="下一步:KF-02").tap()
    page.wait_for_url(url + "/training/new-staff/KF-02")
    expect(page.locator("section.ack button[type=submit]")).to_be_visible()

    # The supervisor, on another phone: the team's progress, the missed clauses, the person's attempts.
    _, boss, _ = phones()
    log_in(boss, url, "li")
    boss.goto(url + "/training")
    boss.locator("a", has_text="查看本班组的培训进度").tap()
    boss.wait_for_url(url + "/training/team")
    row = boss.locator("table.training-people tr", has_text="张三")
    expect(row).to_contain_text("1/10")
    expect(boss.locator("#missed li")).not_to_have_count(0)
    fits(boss)
    shot(boss, "10-team-progress", full_page=True)
    row.locator("a", has_text="张三").first.tap()
    boss.wait_for_url(url + "/training/people/zhang")
    expect(boss.locator("#attempts tbody tr")).to_have_count(2)
    expect(boss.locator("#attempts")).to_contain_text("100 分")
    fits(boss)
    shot(boss, "11-person-detail", full_page=True)

    # KF-01 is revised and the server restarted on the new source (same database): re-acknowledge it.
    revised = tmp_path / "source"
    revised.mkdir()
    from formserver import create_app

    new_app = create_app({**{k: v for k, v in config.items() if k != "instance"},
                          "HANDBOOK_ROOT": str(revised_tree(revised))})
    switch.app = new_app
    page.goto(url + "/training")
    expect(page.locator("section.path")).to_contain_text("需要重新确认")
    shot(page, "12-needs-reacknowledgement")
    page.locator("section.path a.step-title", has_text="KF-01").tap()
    page.wait_for_url(url + "/training/new-staff/KF-01")
    changes = page.locator("#changes")
    expect(changes.locator("h2")).to_have_text("需要重新确认")
    expect(changes.locator(".change-changed del")).to_have_text("最新")
    expect(changes.locator(".change-changed ins").last).to_have_text("现行")
    expect(changes.locator(".change-added")).to_contain_text("KF-01.19")
    fits(page)
    shot(page, "13-what-changed")
    ack = page.locator("section.ack")
    ack.scroll_into_view_if_needed()
    expect(ack.locator("h2")).to_have_text("重新确认")
    ack.locator("label.confirm").tap()
    ack.locator("button[type=submit]").tap()
    expect(page.locator(".flash")).to_contain_text("第 1.1 版")
    expect(page.locator("#changes")).to_have_count(0)
    boss.goto(url + "/training/people/zhang")
    expect(boss.locator("#acks")).to_contain_text("KF-01 第 1.1 版")
