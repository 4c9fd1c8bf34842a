"""Training on the form server, through its pages like a browser, on SQLite and PostgreSQL: who is on which
learning path (defaults on the first visit, assigned by supervisors and the CLI), reading and acknowledging a
regulation's current version (again after it changes, with the clause-level diff), quizzes drawn in random
order and scored on the server by option identity, wrong answers explained with links to the cited clauses,
steps unlocked in order, double submissions scored once, progress for the person and their supervisor, the
probation form's link to the person's results, and who may see what."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import random
import re
import shutil
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from formserver.db.models import Acknowledgement, AuditEvent, PathAssignment, QuizAttempt, RegulationVersion, User
from formserver.training import quiz
from handbook.pages_regulation import render_regulation
from handbook.render import TextRenderer
from tests.server_support import ROOT, create_user, csrf_of, login, make_app, person
from tests.server_values import count, minimal_formdata, submitted

NEW_STAFF = ["KF-01", "KF-02", "KF-08", "KF-09", "KF-12", "KF-13", "KF-14", "KF-04", "KF-06", "KF-21"]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


pytestmark = pytest.mark.usefixtures("cheap_passwords")



def text_of(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def token(client) -> str:
    return csrf_of(client.get("/password").get_data(as_text=True))


def rows(app: Flask, model, *where):
    """Rows of `model`, oldest first."""
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def events(app: Flask, action: str) -> list[AuditEvent]:
    return rows(app, AuditEvent, AuditEvent.action == action)


def acknowledge(client, regulation_id: str, path_id: str = "new-staff"):
    page = client.get(f"/training/{path_id}/{regulation_id}")
    assert page.status_code == 200, page.status_code
    body = page.get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', body)
    assert version, "no acknowledge form on the page"
    return client.post(f"/training/{path_id}/{regulation_id}/ack",
                       data={"csrf_token": csrf_of(body), "version": version.group(1), "confirm": "yes"})


def start_quiz(client, regulation_id: str, path_id: str = "new-staff") -> str:
    """Start (or resume) the quiz; its attempt URL."""
    response = client.post(f"/training/{path_id}/{regulation_id}/quiz", data={"csrf_token": token(client)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert re.fullmatch(r"/training/attempts/[0-9a-f-]{36}", response.headers["Location"])
    return response.headers["Location"]


def quiz_on_page(body: str) -> dict[str, list[tuple[str, str]]]:
    """question id → [(option key, option text)] in the order the page shows them."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, key, text in re.findall(r'<input type="(?:radio|checkbox)" name="q-([^"]+)" value="([^"]+)"[^>]*>'
                                      r"<span>(.*?)</span>", body):
        out.setdefault(name, []).append((key, html.unescape(text)))
    return out


def correct_texts(app: Flask, question_id: str) -> set[str]:
    """The correct options' texts, from the question bank (not from the server's stored draw)."""
    hb = app.extensions["catalogue"].handbook
    q = next(q for q in hb.questions if q.id == question_id)
    if q.kind == "truefalse":
        return {quiz.TRUE_FALSE[0] if q.answer else quiz.TRUE_FALSE[1]}
    plain = TextRenderer(hb, "").plain
    return {plain(o.text) for o in q.options if o.correct}


def answers(app: Flask, body: str, right: bool | set[str] = True) -> dict[str, list[str]]:
    """Form fields answering the quiz on the page: all right, all wrong, or right except the question ids given."""
    wrong_ids = set() if right is True else (set(quiz_on_page(body)) if right is False else right)
    data: dict[str, list[str]] = {}
    for qid, options in quiz_on_page(body).items():
        good = correct_texts(app, qid)
        chosen = [k for k, t in options if (t in good) != (qid in wrong_ids)]
        data[f"q-{qid}"] = chosen[:1] if qid in wrong_ids else chosen
    return data


def take_quiz(app: Flask, client, regulation_id: str, right: bool | set[str] = True, path_id: str = "new-staff"):
    """Start the quiz and submit it; (attempt URL, result page)."""
    url = start_quiz(client, regulation_id, path_id)
    body = client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_of(body), **answers(app, body, right)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return url, client.get(url)


def complete_step(app: Flask, client, regulation_id: str, path_id: str = "new-staff") -> None:
    assert acknowledge(client, regulation_id, path_id).status_code == 303
    take_quiz(app, client, regulation_id, True, path_id)


# -- who is on which path -------------------------------------------------------------------------------


def test_first_visit_assigns_the_paths_of_the_role(app):
    staff = person(app, "zhang", name="张三")
    page = staff.get("/training")
    assert page.status_code == 200
    text = text_of(page)
    assert "新员工 · 客服专员" in text and "0/10 步" in text and "主管" not in text.split("我的培训")[1]
    [row] = rows(app, PathAssignment)
    cat = app.extensions["catalogue"]
    assert (row.path_id, row.assigned_by_id) == ("new-staff", None)
    assert row.due_date == cat.now().date() + dt.timedelta(days=7)  # due_days of the path
    staff.get("/training")
    assert len(rows(app, PathAssignment)) == 1  # the second visit assigns nothing more
    assert [e.detail["by"] for e in events(app, "path-assigned")] == ["default"]

    boss = person(app, "li", role="supervisor", name="李主管")
    assert "主管" in text_of(boss.get("/training"))
    manager = person(app, "liu", role="manager", team="office")
    manager.get("/training")
    admin = person(app, "root", role="admin")
    assert "还没有为您分配学习路径" in text_of(admin.get("/training"))
    assigned = {(a.user_id, a.path_id) for a in rows(app, PathAssignment)}
    ids = {u.username: u.id for u in rows(app, User)}
    assert assigned == {(ids["zhang"], "new-staff"), (ids["li"], "supervisor"), (ids["liu"], "supervisor")}


def test_steps_unlock_in_order(app):
    staff = person(app, "zhang")
    page = staff.get("/training")
    body = page.get_data(as_text=True)
    assert 'href="/training/new-staff/KF-01"' in body and 'href="/training/new-staff/KF-02"' not in body
    locked = staff.get("/training/new-staff/KF-02")
    assert locked.status_code == 200 and "请先完成上一步" in text_of(locked)
    assert 'name="version"' not in locked.get_data(as_text=True)
    csrf = token(staff)
    assert staff.post("/training/new-staff/KF-02/ack", data={"csrf_token": csrf, "confirm": "yes"}).status_code == 409
    assert staff.post("/training/new-staff/KF-02/quiz", data={"csrf_token": csrf}).status_code == 409
    # The quiz opens only once the regulation is acknowledged.
    assert staff.post("/training/new-staff/KF-01/quiz", data={"csrf_token": csrf}).status_code == 409
    assert acknowledge(staff, "KF-01").status_code == 303
    assert "请先完成上一步" in text_of(staff.get("/training/new-staff/KF-02"))  # the quiz is not passed yet
    take_quiz(app, staff, "KF-01", right=False)
    assert "请先完成上一步" in text_of(staff.get("/training/new-staff/KF-02"))  # failing does not unlock
    _url, result = take_quiz(app, staff, "KF-01")
    assert "100 分" in text_of(result) and "通过" in text_of(result)
    step = staff.get("/training/new-staff/KF-02")
    assert "请先完成上一步" not in text_of(step) and 'name="version"' in step.get_data(as_text=True)
    assert "1/10 步" in text_of(staff.get("/training"))
    # A path that is not the person's, or a regulation not on it.
    assert staff.get("/training/supervisor/KF-03").status_code == 404
    assert staff.get("/training/new-staff/KF-03").status_code == 404
    assert staff.get("/training/nope/KF-01").status_code == 404


def test_supervisor_assigns_paths_in_their_team(app):
    zhang = person(app, "zhang", name="张三")
    person(app, "wu", team="security", name="吴")
    boss = person(app, "li", role="supervisor", name="李主管")
    csrf = token(boss)
    done = boss.post("/training/assign", data={"csrf_token": csrf, "username": "zhang", "path_id": "duty",
                                               "due": "2027-01-15"})
    assert done.status_code == 303 and done.headers["Location"] == "/training/people/zhang"
    page = text_of(boss.get("/training/people/zhang"))
    assert "值班人员" in page and "2027-01-15" in page
    [row] = rows(app, PathAssignment)
    assert (row.path_id, row.due_date, row.assigned_by.username) == ("duty", dt.date(2027, 1, 15), "li")
    # On their first visit, the person keeps it and gets no default on top (they have been assigned a path).
    assert "值班人员" in text_of(zhang.get("/training")) and len(rows(app, PathAssignment)) == 1
    # Another team's person: the same 404 as nobody, and nothing stored.
    for username in ("wu", "nobody"):
        refused = boss.post("/training/assign", data={"csrf_token": csrf, "username": username, "path_id": "duty"})
        assert refused.status_code == 404 and "吴" not in refused.get_data(as_text=True)
    assert boss.get("/training/people/wu").status_code == 404
    assert len(rows(app, PathAssignment)) == 1
    assert boss.post("/training/assign", data={"csrf_token": csrf, "username": "zhang",
                                               "path_id": "nope"}).status_code == 400
    assert boss.post("/training/assign", data={"csrf_token": csrf, "username": "zhang", "path_id": "duty",
                                               "due": "15/01/2027"}).status_code == 400
    # Managers assign anyone; removing keeps the row (and the person's records), and no default comes back.
    manager = person(app, "liu", role="manager", team="office")
    assert manager.post("/training/assign", data={"csrf_token": token(manager), "username": "wu",
                                                  "path_id": "callback"}).status_code == 303
    removed = boss.post("/training/people/zhang/remove", data={"csrf_token": csrf, "path_id": "duty"})
    assert removed.status_code == 303
    assert "还没有为您分配学习路径" in text_of(zhang.get("/training"))
    assert {e.action for e in rows(app, AuditEvent, AuditEvent.target == "zhang")} >= {"path-assigned",
                                                                                       "path-removed"}
    # Staff cannot assign, not even to themselves.
    assert zhang.post("/training/assign", data={"csrf_token": token(zhang), "username": "zhang",
                                                "path_id": "duty"}).status_code == 403


def test_admin_assigns_a_path_from_the_cli(app):
    create_user(app, "zhang")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["assign-path", "zhang", "support-engineer"])
    assert result.exit_code == 0, result.output
    cat = app.extensions["catalogue"]
    due = cat.now().date() + dt.timedelta(days=14)
    assert f"完成期限 {due.isoformat()}" in result.output
    result = runner.invoke(args=["assign-path", "zhang", "support-engineer", "--due", "2027-03-01"])
    assert result.exit_code == 0 and "2027-03-01" in result.output
    [row] = rows(app, PathAssignment)
    assert (row.path_id, row.due_date, row.assigned_by_id) == ("support-engineer", dt.date(2027, 3, 1), None)
    unknown = runner.invoke(args=["assign-path", "zhang", "engineer"])
    assert unknown.exit_code == 1 and "没有学习路径" in unknown.output and "support-engineer" in unknown.output
    nobody = runner.invoke(args=["assign-path", "nobody", "duty"])
    assert nobody.exit_code == 1 and "没有用户" in nobody.output


def test_every_admin_command_is_in_the_readme(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| command | what |")[1].split("\n\n")[0]
    ours = {name for name, command in app.cli.commands.items() if command.callback.__module__ == "formserver.app.cli"}
    assert "assign-path" in ours
    assert {name for name in ours if f"`{name}" not in table} == set()


# -- read and acknowledge -----------------------------------------------------------------------------------


def test_acknowledging_records_who_when_which_version(app):
    staff = person(app, "zhang")
    staff.get("/training")
    page = staff.get("/training/new-staff/KF-01")
    text = text_of(page)
    assert "KF-01 总则" in text and "KF-01.1" in text and "未确认" in text
    assert 'href="/handbook/regulations/KF-01/"' in page.get_data(as_text=True)  # the whole text in the handbook
    body = page.get_data(as_text=True)
    csrf, version = csrf_of(body), re.search(r'name="version" value="(\d+)"', body).group(1)
    # Not ticked: nothing recorded.
    assert staff.post("/training/new-staff/KF-01/ack", data={"csrf_token": csrf, "version": version}).status_code == 303
    assert rows(app, Acknowledgement) == []
    # A version other than the current one (the page was read before a new version came): nothing either.
    stale = staff.post("/training/new-staff/KF-01/ack", data={"csrf_token": csrf, "version": "999999",
                                                               "confirm": "yes"})
    assert stale.status_code == 303 and rows(app, Acknowledgement) == []
    assert "已更新" in text_of(staff.get("/training/new-staff/KF-01"))
    # Without the CSRF token: refused.
    assert staff.post("/training/new-staff/KF-01/ack", data={"version": version, "confirm": "yes"}).status_code == 400
    # Twice (a double tap): one acknowledgement, one audit event.
    for _ in range(2):
        done = staff.post("/training/new-staff/KF-01/ack", data={"csrf_token": csrf, "version": version,
                                                                  "confirm": "yes"})
        assert done.status_code == 303
    [ack] = rows(app, Acknowledgement)
    current = app.extensions["catalogue"].regulation_versions["KF-01"]
    assert (ack.regulation_id, ack.regulation_version_id, ack.path_id) == ("KF-01", current.id, "new-staff")
    [event] = events(app, "acknowledge")
    assert (event.username, event.target, event.detail["revision"]) == ("zhang", "KF-01", current.revision)
    assert "已确认" in text_of(staff.get("/training/new-staff/KF-01"))


def test_regulation_versions_are_registered_once_with_their_clauses(app):
    cat = app.extensions["catalogue"]
    stored = rows(app, RegulationVersion, RegulationVersion.regulation_id == "KF-01")
    current = next(v for v in stored if v.id == cat.regulation_versions["KF-01"].id)
    clauses = dict(current.clauses)
    assert current.revision == cat.handbook.regulation("KF-01").revision
    assert list(clauses)[:3] == ["KF-01.1", "KF-01.2", "KF-01.3"]
    assert "{{" not in clauses["KF-01.1"] and cat.handbook.organisation.name in clauses["KF-01.1"]
    assert {r.id for r in cat.handbook.regulations} == set(cat.regulation_versions)


def revised_tree(tmp_path: Path, *, bump: bool = True) -> Path:
    """A copy of the source with KF-01 changed: words added to and replaced in KF-01.18, KF-01.19 added, and
    (bump) the revision 1.1 recorded."""
    root = tmp_path / ("revised" if bump else "edited")
    for folder in ("regulations", "checklists"):
        shutil.copytree(ROOT / folder, root / folder)
    path = root / "regulations" / "KF-01-general.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("各班组负责人组织本班组员工学习", "各班组负责人在 7 日内组织本班组员工学习并在线确认", 1)
    text = text.replace("确保员工知悉最新版本的要求。", "确保员工知悉现行版本的要求。\n\n"
                        "[KF-01.19] 员工须在培训系统中确认已阅读修订后的制度。", 1)
    if bump:
        text = text.replace('revision: "1.0"\ndepartment', 'revision: "1.1"\ndepartment', 1)
        text = text.replace("effective: 2026-12-01", "effective: 2026-12-15", 1)
        text = text.replace("---\n\n本制度是", '  - revision: "1.1"\n    date: 2026-12-15\n    author: 运营部\n'
                            "    summary: 新增 KF-01.19,修订制度须在线确认。\n---\n\n本制度是", 1)
    path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def second_app(app, tmp_path):
    """`second_app(root)`: another app server on the same database, started from another source tree (as
    after the regulations are edited and the server restarted)."""
    started = []

    def start(root: Path) -> Flask:
        other = make_app(app.config["DATABASE_URL"], tmp_path / f"instance-{len(started)}", HANDBOOK_ROOT=str(root))
        started.append(other)
        return other

    yield start
    for other in started:
        other.extensions["db_engine"].dispose()


@pytest.mark.parametrize("bump", [True, False], ids=["new-revision", "same-label-changed-text"])
def test_a_changed_regulation_asks_for_reacknowledgement_with_the_diff(app, second_app, tmp_path, bump):
    staff = person(app, "zhang")
    staff.get("/training")
    complete_step(app, staff, "KF-01")
    first = app.extensions["catalogue"].regulation_versions["KF-01"]

    revised = second_app(revised_tree(tmp_path, bump=bump))
    version = revised.extensions["catalogue"].regulation_versions["KF-01"]
    assert version.id != first.id and version.revision == ("1.1" if bump else "1.0")
    client = revised.test_client()
    assert login(client, "zhang").status_code == 302
    home = text_of(client.get("/training"))
    assert "需要重新确认" in home and "0/10 步" in home
    page = client.get("/training/new-staff/KF-01")
    body, text = page.get_data(as_text=True), text_of(page)
    assert "需要重新确认" in text and f"您确认过的是第 {first.revision} 版" in text
    changes = body.split('id="changes"')[1].split("</section>")[0]
    assert "<ins>在 7 日内</ins>" in changes and "<ins>并在线确认</ins>" in changes
    assert "<del>最新</del><ins>现行</ins>" in changes
    assert re.search(r"KF-01\.19</a>\s*<span class=\"badge ok\">新增</span>", changes)
    assert "<ins>员工须在培训系统中确认已阅读修订后的制度。</ins>" in changes
    assert "KF-01.17" not in changes  # unchanged clauses are not listed
    # The next steps stay open (KF-01 was completed once); its quiz waits for the new acknowledgement.
    assert "请先完成上一步" not in text_of(client.get("/training/new-staff/KF-02"))
    assert client.post("/training/new-staff/KF-01/quiz", data={"csrf_token": csrf_of(body)}).status_code == 409
    # The old server still shows the old version, whose acknowledgement is current there.
    assert "需要重新确认" not in text_of(staff.get("/training/new-staff/KF-01"))

    assert acknowledge(client, "KF-01").status_code == 303
    after = text_of(client.get("/training/new-staff/KF-01"))
    assert "需要重新确认" not in after and "已确认" in after
    assert [a.regulation_version_id for a in rows(app, Acknowledgement)] == [first.id, version.id]
    assert [e.detail["again"] for e in events(app, "acknowledge")] == [False, True]
    assert "1/10 步" in text_of(client.get("/training"))


def test_overdue_and_pending_reacknowledgements_for_the_supervisor(app, second_app, tmp_path):
    zhang = person(app, "zhang", name="张三")
    zhang.get("/training")
    complete_step(app, zhang, "KF-01")
    wang = person(app, "wang", name="王五")
    wang.get("/training")
    with app.extensions["db_sessions"].begin() as session:
        session.execute(update(PathAssignment).values(due_date=dt.date(2026, 1, 5)))
    boss = person(app, "li", role="supervisor", name="李主管")
    page = boss.get("/training/team")
    overdue = text_of(page).split("逾期未确认")[1].split("人员")[0]
    assert "王五 · KF-01 总则 未确认 应于 2026-01-05 前" in overdue
    assert "张三 · KF-02" in overdue and "张三 · KF-01" not in overdue

    # A new KF-01 that appeared 30 days ago (as a long-running server would know it) and zhang has not
    # acknowledged: pending, and overdue since 23 days.
    revised = second_app(revised_tree(tmp_path))
    cat = revised.extensions["catalogue"]
    cat.regulation_versions["KF-01"] = dataclasses.replace(
        cat.regulation_versions["KF-01"], registered_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)
        - dt.timedelta(days=30))
    client = revised.test_client()
    assert login(client, "li").status_code == 302
    overdue = text_of(client.get("/training/team")).split("逾期未确认")[1].split("人员")[0]
    due = (cat.local(cat.regulation_versions["KF-01"].registered_at).date() + dt.timedelta(days=7)).isoformat()
    assert f"张三 · KF-01 总则 需要重新确认 应于 {due} 前" in overdue
    person_page = text_of(client.get("/training/people/zhang"))
    assert "逾期" in person_page and "需要重新确认" in person_page


# -- quizzes ------------------------------------------------------------------------------------------------


def test_quiz_order_is_random_and_kept_in_the_attempt(app):
    hb = app.extensions["catalogue"].handbook
    draws = [quiz.draw(hb, "KF-01", random.Random(seed)) for seed in range(12)]
    assert len({tuple(q["id"] for q in d) for d in draws}) > 1, "questions always in the same order"
    multiple = [[o["text"] for o in next(q for q in d if q["kind"] == "multiple")["options"]] for d in draws]
    assert len({tuple(m) for m in multiple}) > 1, "options always in the same order"
    keys = [o["key"] for d in draws for q in d for o in q["options"]]
    assert len(set(keys)) == len(keys)  # random keys: nothing to learn from them
    assert all(re.fullmatch(r"[0-9a-f]{8}", k) for k in keys)

    staff = person(app, "zhang")
    staff.get("/training")
    acknowledge(staff, "KF-01")
    url = start_quiz(staff, "KF-01")
    first = staff.get(url).get_data(as_text=True)
    assert "correct" not in first.split("<main>")[1]  # the page does not tell which option is right
    shown = quiz_on_page(first)
    assert quiz_on_page(staff.get(url).get_data(as_text=True)) == shown  # a reload shows the same quiz
    assert start_quiz(staff, "KF-01") == url  # so does starting again before submitting
    [attempt] = rows(app, QuizAttempt)
    assert list(shown) == [q["id"] for q in attempt.questions]
    assert {q: [k for k, _ in opts] for q, opts in shown.items()} == {
        q["id"]: [o["key"] for o in q["options"]] for q in attempt.questions}
    assert len(shown) == sum(1 for q in hb.questions if q.regulation_id == "KF-01")


def test_scoring_is_by_option_identity_on_the_server(app):
    staff = person(app, "zhang")
    staff.get("/training")
    acknowledge(staff, "KF-01")
    url = start_quiz(staff, "KF-01")
    body = staff.get(url).get_data(as_text=True)
    csrf = csrf_of(body)
    # Positions instead of keys are not answers: the quiz comes back with the questions marked, unscored.
    by_position = {f"q-{qid}": ["0"] for qid in quiz_on_page(body)}
    refused = staff.post(url, data={"csrf_token": csrf, **by_position})
    assert refused.status_code == 400 and "还有 5 道题没有作答" in text_of(refused)
    # Some answered: what was chosen is kept on the page that comes back.
    some = answers(app, body)
    kept_question = next(iter(some))
    partial = staff.post(url, data={"csrf_token": csrf, kept_question: some[kept_question]})
    assert partial.status_code == 400 and "还有 4 道题没有作答" in text_of(partial)
    assert f'value="{some[kept_question][0]}" checked' in partial.get_data(as_text=True)
    assert rows(app, QuizAttempt)[0].submitted_at is None
    # A multiple-choice question with only some of its correct options is wrong (2 of the 6 points lost).
    multiple = next(q for q in rows(app, QuizAttempt)[0].questions if q["kind"] == "multiple")
    data = answers(app, body)
    data[f"q-{multiple['id']}"] = data[f"q-{multiple['id']}"][:1]
    assert staff.post(url, data={"csrf_token": csrf, **data}).status_code == 303
    [attempt] = rows(app, QuizAttempt)
    assert (attempt.score, attempt.passed, attempt.pass_mark) == (66, False, 80)  # 4 of 6 points
    assert [r["id"] for r in attempt.results if not r["correct"]] == [multiple["id"]]
    [event] = events(app, "quiz-attempt")
    assert (event.target, event.detail["score"], event.detail["passed"]) == (attempt.uid, 66, False)


def test_wrong_answers_show_explanation_correct_answer_and_clause_links(app):
    staff = person(app, "zhang")
    staff.get("/training")
    acknowledge(staff, "KF-01")
    _url, result = take_quiz(app, staff, "KF-01", right=False)
    body = result.get_data(as_text=True)
    assert "0 分" in text_of(result) and "未通过" in text_of(result) and "重新测验" in text_of(result)
    hb = app.extensions["catalogue"].handbook
    plain = TextRenderer(hb, "").plain
    for q in (q for q in hb.questions if q.regulation_id == "KF-01"):
        card = body.split(f'id="{q.id}"')[1].split("</section>")[0]
        shown = html.unescape(re.sub(r"<[^>]+>", "", card))
        assert plain(q.explanation) in shown and "正确答案:" in shown
        assert all(good in shown.split("正确答案:")[1] for good in correct_texts(app, q.id))
        for ref in q.refs:
            link = f'href="/handbook/regulations/{hb.clauses[ref].regulation_id}/#{ref}"'
            assert link in card
            # …and the handbook page of that regulation has that anchor (how handbook/pages_regulation.py
            # writes clauses and table rows).
            page = render_regulation(hb, hb.regulation(hb.clauses[ref].regulation_id))
            assert f'id="{ref}"' in page or "{#" + ref + " " in page
    # The failed attempt counts towards the clauses most often missed in the team.
    boss = person(app, "li", role="supervisor")
    missed = boss.get("/training/team").get_data(as_text=True).split('id="missed"')[1]
    assert 'href="/handbook/regulations/KF-01/#KF-01.7"' in missed and "答错 1 次" in missed


def test_a_table_row_cited_by_a_question_links_to_its_row(app):
    """Questions may cite penalty-table rows; their anchors are on the regulation's page too."""
    hb = app.extensions["catalogue"].handbook
    row_refs = [r for q in hb.questions for r in q.refs if hb.clauses[r].table_id]
    assert row_refs, "some questions cite table rows"
    staff = person(app, "zhang")
    with app.test_request_context():
        from formserver.training.links import clause_url

        ref = row_refs[0]
        clause = hb.clauses[ref]
        assert clause_url(ref) == f"/handbook/regulations/{clause.regulation_id}/#{ref}"
    assert staff.get("/training").status_code == 200


def test_a_double_submitted_attempt_is_scored_once(app):
    staff = person(app, "zhang")
    staff.get("/training")
    acknowledge(staff, "KF-01")
    url = start_quiz(staff, "KF-01")
    body = staff.get(url).get_data(as_text=True)
    csrf = csrf_of(body)
    first = staff.post(url, data={"csrf_token": csrf, **answers(app, body, right=False)})
    again = staff.post(url, data={"csrf_token": csrf, **answers(app, body)})  # then the right answers
    assert first.status_code == again.status_code == 303
    assert "已经提交过" in text_of(staff.get(url))
    [attempt] = rows(app, QuizAttempt)
    assert (attempt.score, attempt.passed) == (0, False)
    assert len(events(app, "quiz-attempt")) == 1

    # Two requests at the same moment (a double tap over two connections): one is scored.
    url = start_quiz(staff, "KF-01")
    body = staff.get(url).get_data(as_text=True)
    clients = [staff, app.test_client()]
    assert login(clients[1], "zhang").status_code == 302  # the same person on a second connection
    posts = [{"csrf_token": token(c), **answers(app, body)} for c in clients]
    barrier = threading.Barrier(2)
    statuses = []

    def post(client):
        data = posts[clients.index(client)]
        barrier.wait()
        statuses.append(client.post(url, data=data).status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303, 303]
    assert len(events(app, "quiz-attempt")) == 2  # the first attempt's and this one's
    assert count(app, QuizAttempt, QuizAttempt.passed.is_(True)) == 1


# -- progress and access ------------------------------------------------------------------------------------


def test_progress_for_the_person_and_their_supervisor(app):
    zhang = person(app, "zhang", name="张三")
    zhang.get("/training")
    complete_step(app, zhang, "KF-01")
    acknowledge(zhang, "KF-02")
    take_quiz(app, zhang, "KF-02", right=False)
    mine = text_of(zhang.get("/training"))
    assert "1/10 步" in mine and "测验通过 100 分" in mine and "未通过 · 最高 0 分" in mine
    boss = person(app, "li", role="supervisor", name="李主管")
    team = text_of(boss.get("/training/team"))
    assert "张三" in team and "1/10" in team
    detail = boss.get("/training/people/zhang")
    text = text_of(detail)
    assert "张三 的培训" in text and "测验记录(2)" in text and "KF-01 第 1.0 版" in text
    uids = re.findall(r'href="/training/attempts/([0-9a-f-]{36})"', detail.get_data(as_text=True))
    assert len(uids) == 2
    result = boss.get(f"/training/attempts/{uids[0]}")  # the supervisor reads the attempt, read-only
    assert result.status_code == 200 and "张三" in text_of(result) and "重新测验" not in text_of(result)


def test_who_may_see_whose_training(app):
    zhang = person(app, "zhang", name="张三")
    zhang.get("/training")
    acknowledge(zhang, "KF-01")
    open_url = start_quiz(zhang, "KF-01")
    done_url, _ = take_quiz(app, zhang, "KF-01", right=False)
    assert done_url == open_url  # starting again resumed the quiz drawn before

    bob = person(app, "bob", name="鲍勃")  # same team, staff
    for path in ("/training/team", "/training/people/zhang"):
        assert bob.get(path).status_code == 403
    other = person(app, "zhou", role="supervisor", team="security")
    nothing = "/training/attempts/00000000-0000-4000-8000-000000000000"
    for client in (bob, other):
        hidden, missing = client.get(done_url), client.get(nothing)
        assert hidden.status_code == missing.status_code == 404 and "张三" not in hidden.get_data(as_text=True)
        assert hidden.get_data(as_text=True).replace(done_url, "") == missing.get_data(as_text=True).replace(
            nothing, "")
        posted = client.post(done_url, data={"csrf_token": token(client)})
        assert posted.status_code == 404
    assert other.get("/training/people/zhang").status_code == 404
    assert "张三" not in other.get("/training/team").get_data(as_text=True)
    # The supervisor of the team sees the attempts but cannot answer someone else's open quiz.
    boss = person(app, "li", role="supervisor")
    url = start_quiz(zhang, "KF-01")
    body = zhang.get(url).get_data(as_text=True)
    assert boss.get(url).status_code == 200 and "尚未提交" in text_of(boss.get(url))
    assert boss.post(url, data={"csrf_token": token(boss), **answers(app, body)}).status_code == 404
    assert rows(app, QuizAttempt, QuizAttempt.submitted_at.is_(None))  # still open
    manager = person(app, "liu", role="manager", team="office")
    assert manager.get("/training/people/zhang").status_code == 200
    assert "张三" in text_of(manager.get("/training/team"))


def test_names_are_escaped_everywhere(app):
    create_user(app, "evil", display_name=XSS[:64])
    evil = app.test_client()
    login(evil, "evil")
    evil.get("/training")
    acknowledge(evil, "KF-01")
    take_quiz(app, evil, "KF-01", right=False)
    boss = person(app, "li", role="supervisor")
    pages = [boss.get("/training/team"), boss.get("/training/people/evil"), evil.get("/training"),
             boss.get(f"/training/attempts/{rows(app, QuizAttempt)[0].uid}")]
    for page in pages:
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in pages[0].get_data(as_text=True)


# -- the probation form links to the person's training --------------------------------------------------


def test_probation_review_links_to_the_training_results(app):
    zhang = person(app, "zhang", name="张三")
    zhang.get("/training")
    complete_step(app, zhang, "KF-01")
    person(app, "wu", team="security", name="吴")
    boss = person(app, "li", role="supervisor", name="李主管")
    form = boss.get("/forms/probation-review").get_data(as_text=True)
    datalist = form.split('<datalist id="employee-people">')[1].split("</datalist>")[0]
    assert 'value="张三"' in datalist and "吴" not in datalist  # the people the supervisor may see
    cat = app.extensions["catalogue"]
    data = minimal_formdata(cat.forms["probation-review"])
    data.setlist("employee", ["张三"])
    uid = submitted(boss, "probation-review", data)
    record = boss.get(f"/records/{uid}")
    body = record.get_data(as_text=True)
    assert 'href="/training/people/zhang"' in body and "查看 张三 的培训结果" in text_of(record)
    assert "新员工 · 客服专员:1/10 步,测验平均 100 分" in text_of(record)
    # A name that is no account the supervisor may see: said so, no link.
    for name in ("吴", "没这人", XSS[:40]):
        data.setlist("employee", [name])
        other = boss.get(f"/records/{submitted(boss, 'probation-review', data)}")
        assert "培训结果:没有找到这个人的账号" in text_of(other)
        assert "/training/people/" not in other.get_data(as_text=True)
        assert "<script>alert" not in other.get_data(as_text=True)
    # Forms without the flag show nothing of the kind.
    assert "培训结果" not in boss.get("/forms/patrol").get_data(as_text=True)
