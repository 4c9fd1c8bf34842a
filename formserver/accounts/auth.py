"""Login, logout and password change; server-side sessions; login throttling.

The signed cookie holds only a random session token; the `login_sessions` table holds its hash. Logout
deletes that row, a password change or disabling a user deletes all of the user's rows, so a copied cookie
stops working at once. Failed logins are counted per account and per address in the database (shared by
every app server) and throttled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Request, current_app, flash, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import public, requires
from formserver.accounts.passwords import hash_password, password_problem, verify_password
from formserver.db.models import LoginFailure, LoginSession, User, utcnow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
THROTTLE_WINDOW = dt.timedelta(minutes=15)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Principal:
    """The logged-in user of this request: the User row plus the session token it came with."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User, token: str):
        self.user = user
        self.token = token

    def get_id(self) -> str:
        return self.token

    def __getattr__(self, name: str):
        return getattr(self.user, name)


@login_manager.user_loader
def load_principal(token: str) -> Principal | None:
    row = db.session().scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    if row is None or row.expires_at < utcnow() or not row.user.active:
        return None
    return Principal(row.user, token)


def start_session(write_db: Session, user: User) -> str:
    token = secrets.token_urlsafe(32)
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    write_db.add(LoginSession(token_hash=token_hash(token), user_id=user.id, expires_at=utcnow() + lifetime))
    # Expired sessions of anyone are cleaned up as people log in.
    write_db.execute(delete(LoginSession).where(LoginSession.expires_at < utcnow()))
    return token


def end_all_sessions(write_db: Session, user_id: int) -> None:
    write_db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


def _throttle_keys(username: str) -> list[tuple[str, int]]:
    config = current_app.config
    return [(f"user:{username.lower()}", config["LOGIN_LIMIT_PER_ACCOUNT"]),
            (f"ip:{request.remote_addr}", config["LOGIN_LIMIT_PER_ADDRESS"])]


def throttled(username: str) -> bool:
    since = utcnow() - THROTTLE_WINDOW
    for key, limit in _throttle_keys(username):
        count = db.session().scalar(select(func.count()).select_from(LoginFailure)
                                    .where(LoginFailure.key == key, LoginFailure.at > since))
        if count >= limit:
            return True
    return False


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("fill.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("fill.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("fill.home"))
        return render_template("login.html", username="", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:1024]
    next_url = request.form.get("next", "")
    if throttled(username):
        with db.write() as w:
            audit.record(w, None, "login-throttled", username)
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        return render_template("login.html", username=username, next=next_url,
                               error=f"登录失败次数过多,请 {minutes} 分钟后再试,或联系管理员。"), 429
    user = db.session().scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
    with db.write() as w:
        if not ok:
            for key, _limit in _throttle_keys(username):
                w.add(LoginFailure(key=key))
            audit.record(w, None, "login-failed", username)
        else:
            w.execute(delete(LoginFailure).where(LoginFailure.key == f"user:{username.lower()}"))
            token = start_session(w, user)
            audit.record(w, user, "login", username)
    if not ok:
        return render_template("login.html", username=username, next=next_url, error="用户名或密码不正确"), 401
    session.clear()
    session.permanent = True
    login_user(Principal(user, token))
    return redirect(_safe_next(next_url))


@bp.route("/logout", methods=["POST"])
@requires("staff")
def logout():
    with db.write() as w:
        w.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(current_user.token)))
        audit.record(w, current_user.user, "logout", current_user.username)
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@requires("staff")
def change_password():
    if request.method == "GET":
        return render_template("password.html")
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    again = request.form.get("again", "")
    errors = {}
    if not verify_password(current_user.password_hash, current):
        errors["current"] = "当前密码不正确"
    problem = password_problem(new, current_user.username)
    if problem:
        errors["new"] = problem
    elif new != again:
        errors["again"] = "两次输入的新密码不一致"
    if errors:
        return render_template("password.html", errors=errors), 400
    with db.write() as w:
        user = w.get(User, current_user.id)
        user.password_hash = hash_password(new)
        end_all_sessions(w, user.id)  # every other device is logged out
        token = start_session(w, user)
        audit.record(w, user, "password-changed", user.username)
    session.clear()
    session.permanent = True
    login_user(Principal(user, token))
    flash("密码已修改,其他设备上的登录已失效")
    return redirect(url_for("fill.home"))


class _NoSessionForTheApi(SecureCookieSessionInterface):
    """The JSON API authenticates every request by its bearer token and ignores the login cookie (a copied
    cookie is no API credential): it gets Flask's null session instead of one read from, and signed back
    into, the cookie, which cost a signing serializer per request for nothing."""

    def open_session(self, app: Flask, request: Request):
        if request.path.startswith("/api/"):
            return None  # Flask then uses make_null_session(): empty, read-only
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = _NoSessionForTheApi()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = None  # the server-side session table does this job
    app.register_blueprint(bp)
