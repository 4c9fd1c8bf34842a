"""A person's own training: their paths, reading and acknowledging a regulation (with what changed since the
version they acknowledged), and its quiz: start, answer, result."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import Acknowledgement, QuizAttempt, RegulationVersion, User, utcnow
from formserver.forms.catalogue import catalogue
from formserver.forms.regversions import clause_texts
from handbook.diff import clause_changes
from handbook.model import LearningPath

from . import assign, progress, quiz

bp = Blueprint("training", __name__, url_prefix="/training")
NOT_ON_PATH = "没有这条学习路径,或它没有分配给您。请从“培训”页面进入。"
LOCKED = "请先完成上一步:阅读并确认上一项制度,并通过它的测验。"


def _path(path_id: str) -> LearningPath:
    path = next((p for p in catalogue().handbook.paths if p.id == path_id), None)
    if path is None:
        zh_abort(404, NOT_ON_PATH)
    return path


def my_progress(path_id: str) -> progress.PathProgress:
    """The current user's progress on a path assigned to them (404 otherwise)."""
    _path(path_id)
    records = progress.load_records(db.session(), [current_user.id])
    found = next((p for p in progress.paths_of(catalogue(), records, current_user.id) if p.path.id == path_id), None)
    if found is None:
        zh_abort(404, NOT_ON_PATH)
    return found


def my_step(path_id: str, regulation_id: str) -> tuple[progress.PathProgress, progress.Step]:
    path = my_progress(path_id)
    step = path.step(regulation_id)
    if step is None:
        zh_abort(404, f"学习路径“{path.path.title}”中没有制度 {regulation_id[:20]}。")
    return path, step


@bp.get("")
@requires("staff")
def home():
    cat = catalogue()
    if not assign.ever_assigned(db.session(), current_user.id):  # the first visit: the role's default paths
        with db.write() as w:
            assign.ensure_defaults(w, cat.handbook, w.get(User, current_user.id), cat.now().date())
    records = progress.load_records(db.session(), [current_user.id])
    return render_template("training/home.html", paths=progress.paths_of(cat, records, current_user.id))


def sections(regulation_id: str, texts: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The clauses under their headings, in reading order: [(heading, [(clause id, text), …]), …]."""
    clauses = catalogue().handbook.clauses
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for clause_id, text in texts.items():
        clause = clauses.get(clause_id)
        heading = clause.section if clause else ""
        if not out or out[-1][0] != heading:
            out.append((heading, []))
        out[-1][1].append((clause_id, text))
    return out


@bp.get("/<path_id>/<regulation_id>")
@requires("staff")
def step(path_id: str, regulation_id: str):
    path, step = my_step(path_id, regulation_id)
    cat = catalogue()
    session = db.session()
    current = cat.regulation_versions[regulation_id]
    version = session.get(RegulationVersion, current.id)
    texts = clause_texts(version)
    changes = None
    if step.ack == "outdated":
        changes = clause_changes(clause_texts(step.acknowledged.version), texts)
    attempts = list(session.scalars(select(QuizAttempt).where(QuizAttempt.user_id == current_user.id,
                                                              QuizAttempt.regulation_id == regulation_id)
                                    .order_by(QuizAttempt.started_at.desc()).limit(20)))
    return render_template("training/step.html", path=path, step=step, version=version, changes=changes,
                           sections=sections(regulation_id, texts), attempts=attempts)


@bp.post("/<path_id>/<regulation_id>/ack")
@requires("staff")
def acknowledge(path_id: str, regulation_id: str):
    _path, step = my_step(path_id, regulation_id)
    back = url_for("training.step", path_id=path_id, regulation_id=regulation_id)
    if not step.unlocked:
        zh_abort(409, LOCKED)
    current = catalogue().regulation_versions[regulation_id]
    if request.form.get("version", type=int) != current.id:
        flash("制度在您阅读时已更新为新的版本,请阅读更新后的内容再确认。")
        return redirect(back, code=303)
    if request.form.get("confirm") != "yes":
        flash("请先勾选“我已阅读并理解”再确认。")
        return redirect(back, code=303)
    try:
        with db.write() as w:
            w.add(Acknowledgement(user_id=current_user.id, regulation_id=regulation_id,
                                  regulation_version_id=current.id, path_id=path_id))
            audit.record(w, current_user.user, "acknowledge", regulation_id, revision=current.revision,
                         version=current.id, path=path_id, again=step.ack == "outdated")
            w.flush()
    except IntegrityError:
        pass  # acknowledged already (a double tap): one row, one audit event
    flash(f"已确认阅读 {regulation_id}(第 {current.revision} 版)")
    return redirect(back + ("#quiz" if step.questions else ""), code=303)


@bp.post("/<path_id>/<regulation_id>/quiz")
@requires("staff")
def start_quiz(path_id: str, regulation_id: str):
    path, step = my_step(path_id, regulation_id)
    if not step.unlocked:
        zh_abort(409, LOCKED)
    if not step.quiz_open:
        zh_abort(409, "请先阅读并确认本制度的当前版本,再参加测验。")
    cat = catalogue()
    with db.write() as w:
        # A quiz already drawn and not submitted is the one to answer (a reload, a double tap, a second tab).
        uid = w.scalar(select(QuizAttempt.uid).where(
            QuizAttempt.user_id == current_user.id, QuizAttempt.path_id == path_id,
            QuizAttempt.regulation_id == regulation_id, QuizAttempt.submitted_at.is_(None))
            .order_by(QuizAttempt.started_at.desc()).limit(1))
        if uid is None:
            uid = str(uuid.uuid4())
            w.add(QuizAttempt(uid=uid, user_id=current_user.id, path_id=path_id, regulation_id=regulation_id,
                              regulation_version_id=cat.regulation_versions[regulation_id].id,
                              questions=quiz.draw(cat.handbook, regulation_id), pass_mark=path.path.pass_mark))
    return redirect(url_for("training.attempt", uid=uid), code=303)


def load_attempt(uid: str) -> QuizAttempt:
    """The attempt if the current user may see it (theirs, or a person they supervise); 404 otherwise, the
    same answer as for an attempt that does not exist."""
    attempt = db.session().scalar(select(QuizAttempt).where(QuizAttempt.uid == uid[:36]))
    if attempt is None or not assign.may_see(current_user.user, attempt.user):
        zh_abort(404, "测验记录不存在,或您没有查看它的权限。")
    return attempt


def _regulation(regulation_id: str):
    return next((r for r in catalogue().handbook.regulations if r.id == regulation_id), None)


@bp.get("/attempts/<uid:uid>")
@requires("staff")
def attempt(uid: str):
    attempt = load_attempt(uid)
    path = next((p for p in catalogue().handbook.paths if p.id == attempt.path_id), None)
    common = {"attempt": attempt, "path": path, "regulation": _regulation(attempt.regulation_id),
              "mine": attempt.user_id == current_user.id}
    if attempt.submitted_at is None:
        return render_template("training/quiz.html", chosen={}, error="", **common)
    correct = {r["id"]: r["correct"] for r in attempt.results or []}
    return render_template("training/result.html", wrong=[q for q in attempt.questions if not correct.get(q["id"])],
                           right=[q for q in attempt.questions if correct.get(q["id"])], **common)


@bp.post("/attempts/<uid:uid>")
@requires("staff")
def submit(uid: str):
    attempt = load_attempt(uid)
    if attempt.user_id != current_user.id:
        zh_abort(404, "测验记录不存在,或您没有查看它的权限。")
    result_url = url_for("training.attempt", uid=attempt.uid)
    if attempt.submitted_at is not None:
        flash("这次测验已经提交过,以下是第一次提交的结果。")
        return redirect(result_url, code=303)
    answers, unanswered = quiz.read_answers(attempt.questions, request.form)
    if unanswered:
        path = next((p for p in catalogue().handbook.paths if p.id == attempt.path_id), None)
        return render_template("training/quiz.html", attempt=attempt, path=path, mine=True, chosen=answers,
                               regulation=_regulation(attempt.regulation_id), unanswered=set(unanswered),
                               error=f"还有 {len(unanswered)} 道题没有作答。"), 400
    scored = quiz.score(attempt.questions, answers)
    passed = scored.percent >= attempt.pass_mark
    with db.write() as w:
        # Only the first submission is scored: the condition on submitted_at decides between a double tap's
        # two requests, whichever database.
        done = w.execute(update(QuizAttempt).where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
                         .values(submitted_at=utcnow(), answers=answers, results=scored.results,
                                 score=scored.percent, passed=passed)).rowcount
        if done:
            audit.record(w, current_user.user, "quiz-attempt", attempt.uid, regulation=attempt.regulation_id,
                         path=attempt.path_id, score=scored.percent, passed=passed)
    if not done:
        flash("这次测验已经提交过,以下是第一次提交的结果。")
    return redirect(result_url, code=303)
