"""Attacks a person could try with a browser or a copied cookie: forged posts (CSRF), script typed into
any text field (XSS), replayed sessions after logout / password change / disabling, guessing passwords,
open redirects after login, oversized posts; plus the headers every page carries and the rule that no
traceback or database error ever reaches the user."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy.exc
from flask import Flask
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from formserver.accounts.access import requires
from formserver.base import config as server_config
from formserver.base.security import APP_CSP
from formserver.db.models import AuditEvent, User
from tests.server_payloads import FREE_TEXT, valid_values, web_data
from tests.server_support import (
    PASSWORD,
    ROOT,
    create_user,
    csrf_of,
    form_post,
    login,
    make_app,
    new_form,
    patrol_values,
)

XSS = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
XSS_SHORT = "<script>1</script>"  # for fields of at most 20 characters
RAW = ("<script>alert(1)", "<script>1", "<img src=x")
COOKIE = "formserver_session"
FORM_IDS = sorted(p.stem for p in (ROOT / "checklists").glob("*.yaml"))
NEW_PASSWORD = "another long secret 42"


def signed_in(app: Flask, username: str, role: str = "staff", display_name: str | None = None):
    create_user(app, username, role=role, display_name=display_name or username)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page_csrf(client) -> str:
    return csrf_of(client.get("/password").get_data(as_text=True))


def audit_actions(app: Flask) -> list[tuple[str, str]]:
    with app.extensions["db_sessions"]() as db:
        return [(e.action, e.target) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def submit_patrol(app: Flask, client, **changes) -> str:
    _html, csrf, uid = new_form(client, "patrol")
    response = client.post("/forms/patrol", data=form_post(patrol_values(app, **changes), csrf, uid))
    assert response.status_code == 303, response.get_data(as_text=True)
    return uid


def assert_no_raw_markup(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r} on {where}"


# -- CSRF -------------------------------------------------------------------------------------------


def operations_ids(app: Flask) -> dict[str, str]:
    """Ids of a case, a handover, a penalty and a roster entry that exist, so each of their POST views is reached."""
    import datetime as dt

    from formserver.db.models import Case, Handover, PenaltyRecord, RosterEntry, Submission

    with app.extensions["db_sessions"].begin() as db:
        case = db.scalar(select(Case.id))
        submission = db.scalar(select(Submission))
        handover = Handover(submission_id=submission.id, outgoing_id=submission.user_id, state="blocked")
        penalty = PenaltyRecord(user_id=submission.user_id, clause_id="KF-21.20", on_date=dt.date(2026, 11, 2),
                                reason="测试")
        entry = RosterEntry(day=dt.date(2026, 11, 2), shift="early", user_id=submission.user_id, team="desk")
        db.add_all([handover, penalty, entry])
        db.flush()
        return {"case_id": str(case), "handover_id": str(handover.id), "penalty_id": str(penalty.id),
                "entry_id": str(entry.id)}


def test_every_post_without_a_csrf_token_is_refused(app):
    client = signed_in(app, "zhang")
    uid = submit_patrol(app, client, cctv="fault", cctv_note="黑屏")  # which opens a corrective action
    checked = 0
    args = {"form_id": "patrol", "uid": uid, "path_id": "new-staff", "regulation_id": "KF-01", "username": "zhang",
            "checkpoint_id": "f1-desk", **operations_ids(app)}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            if rule.rule.startswith("/api/"):
                continue  # bearer tokens, not cookies: see tests/formserver/api/test_api.py
            url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: args[m.group(1)], rule.rule)
            response = client.open(url, method=method, data={"reason": "测试", "submission_id": uid},
                                   headers={"Accept": "text/html"})
            assert response.status_code == 400, (method, url, response.status_code)
            body = response.get_data(as_text=True)
            assert "页面已过期" in body, (method, url)
            checked += 1
    assert checked >= 9
    # Nothing happened: still one record, one revision, not deleted, still logged in.
    page = client.get(f"/records/{uid}").get_data(as_text=True)
    assert "共 1 版" in page and "已删除" not in page


def test_a_draft_saved_without_a_token_is_refused_in_json(app):
    client = signed_in(app, "zhang")
    _html, _csrf, uid = new_form(client, "patrol")
    response = client.put(f"/drafts/{uid}", json={"form": "patrol", "fields": [["cctv_note", "x"]]})
    assert response.status_code == 400 and response.is_json
    assert "页面已过期" in response.json["error"]["message"]


def test_a_forged_token_is_refused_too(app):
    client = signed_in(app, "zhang")
    uid = submit_patrol(app, client)
    sup = signed_in(app, "wang", role="supervisor")
    forged = sup.post(f"/records/{uid}/delete", data={"csrf_token": "IjEyMyI.forged.token", "reason": "x"})
    assert forged.status_code == 400 and "页面已过期" in forged.get_data(as_text=True)
    other = page_csrf(client)  # a real token, but of another session
    stolen = sup.post(f"/records/{uid}/delete", data={"csrf_token": other, "reason": "x"})
    assert stolen.status_code == 400


def test_login_form_needs_a_csrf_token(app, client):
    create_user(app, "zhang")
    response = client.post("/login", data={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in


def test_a_form_posted_with_a_bad_token_keeps_the_typing(app):
    client = signed_in(app, "zhang")
    _html, _csrf, uid = new_form(client, "patrol")
    response = client.post("/forms/patrol", data=form_post(patrol_values(app, cctv_note="B1 监控黑屏"), "bad", uid))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "页面已过期" in html and 'value="B1 监控黑屏"' in html and uid in html


# -- XSS --------------------------------------------------------------------------------------------


def payload(item) -> str:
    return XSS if (item.max_length or 500) >= len(XSS) else XSS_SHORT


def shown_as_text(html: str) -> bool:
    return str(escape(XSS)) in html or str(escape(XSS_SHORT)) in html


def test_script_typed_into_any_text_field_is_shown_as_text(app):
    client = signed_in(app, "zhang", display_name=XSS)
    for form_id in FORM_IDS:
        check_form_escapes(app, client, form_id)


def check_form_escapes(app: Flask, client, form_id: str) -> None:
    """Every free-text item of one form (registers and check notes too) filled with markup."""
    form = app.extensions["catalogue"].forms[form_id]
    values = valid_values(form, payload, fault_notes=True)
    texts = [i for i in form.all_items() if i.kind in FREE_TEXT]
    texts += [c for i in form.all_items() if i.kind == "table" for c in i.columns if c.kind in FREE_TEXT]
    assert texts, form_id

    _html, csrf, uid = new_form(client, form_id)
    rejected = client.post(f"/forms/{form_id}", data=MultiDict([*web_data(values), ("csrf_token", "stale"),
                                                                ("submission_id", uid)]))
    assert rejected.status_code == 400, form_id
    html = rejected.get_data(as_text=True)
    assert_no_raw_markup(html, f"the re-rendered {form_id}")
    assert shown_as_text(html), form_id

    response = client.post(f"/forms/{form_id}", data=MultiDict([*web_data(values), ("csrf_token", csrf),
                                                                ("submission_id", uid)]))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    record = client.get(f"/records/{uid}").get_data(as_text=True)
    assert_no_raw_markup(record, f"the {form_id} record page")
    assert shown_as_text(record), form_id
    for page in (f"/records?form={form_id}", "/"):
        assert_no_raw_markup(client.get(page).get_data(as_text=True), page)
    corrected = client.get(f"/records/{uid}/correct").get_data(as_text=True)
    assert_no_raw_markup(corrected, f"the {form_id} correction form")


def test_reasons_and_login_names_are_shown_as_text(app, client):
    staff = signed_in(app, "zhang")
    uid = submit_patrol(app, staff)
    fixed = staff.post(f"/records/{uid}/correct", data={**patrol_values(app, cctv_note="补充"), "reason": XSS,
                                                        "base_revision": "1", "csrf_token": page_csrf(staff)})
    assert fixed.status_code == 303, fixed.get_data(as_text=True)
    sup = signed_in(app, "wang", role="supervisor")
    assert sup.post(f"/records/{uid}/delete", data={"reason": XSS, "csrf_token": page_csrf(sup)}).status_code == 303
    page = sup.get(f"/records/{uid}").get_data(as_text=True)
    assert_no_raw_markup(page, "record with reasons")
    assert page.count(str(escape(XSS))) >= 2
    failed = client.post("/login", data={"username": XSS, "password": "x", "next": XSS,
                                         "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    assert failed.status_code == 401
    assert_no_raw_markup(failed.get_data(as_text=True), "the login page")


def test_templates_have_no_inline_script_or_event_handlers():
    templates = sorted((ROOT / "formserver" / "templates").glob("*.html"))
    assert templates
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for tag in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S | re.I):
            assert "src=" in tag.group(1) and not tag.group(2).strip(), f"inline script in {path.name}"
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text, re.I), f"event handler attribute in {path.name}"
        assert "javascript:" not in text.lower(), path.name
        assert "|safe" not in text.replace(" ", ""), f"|safe in {path.name}"


def test_every_app_page_forbids_inline_script(app):
    client = signed_in(app, "wang", role="admin")
    uid = submit_patrol(app, client)
    pages = ["/login", "/", "/forms/patrol", "/records", f"/records/{uid}", f"/records/{uid}/correct", "/password",
             "/records/nope", "/forms/nope", "/healthz"]
    for page in pages:
        response = client.get(page)
        policy = response.headers.get("Content-Security-Policy", "")
        assert policy == APP_CSP, page
        script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
        assert script_src == ["'self'"], page
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


# -- headers ------------------------------------------------------------------------------------------


def test_security_headers(app):
    client = signed_in(app, "zhang")
    uid = submit_patrol(app, client)
    for path in ("/login", f"/records/{uid}", "/forms/patrol", "/records"):
        response = client.get(path)
        h = response.headers
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["X-Frame-Options"] == "DENY", path
        assert h["Referrer-Policy"] == "same-origin", path
        assert h["Content-Security-Policy"], path
        assert "no-store" in h["Cache-Control"], path
        assert "Strict-Transport-Security" not in h  # plain HTTP (development): no HSTS
    secure = client.get(f"/records/{uid}", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


# -- sessions -----------------------------------------------------------------------------------------


def session_cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str):
    """A request from another browser that copied `cookie`."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief.get("/records")


def test_session_cookie_flags(app, client, monkeypatch):
    create_user(app, "zhang")
    response = login(client, "zhang")
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(COOKIE + "="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    again = login(app.test_client(), "zhang")
    header = next(v for v in again.headers.getlist("Set-Cookie") if v.startswith(COOKIE + "="))
    assert "Secure" in header and "HttpOnly" in header


def test_secure_cookies_are_switched_on_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FORMSERVER_SESSION_COOKIE_SECURE", "true")
    bare = Flask("settings", instance_path=str(tmp_path))
    server_config.load(bare, {"SECRET_KEY": "x"})
    assert bare.config["SESSION_COOKIE_SECURE"] is True
    assert bare.config["SESSION_COOKIE_HTTPONLY"] is True and bare.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_cookie_copied_before_logout_stops_working(app, client):
    create_user(app, "zhang")
    login(client, "zhang")
    cookie = session_cookie(client)
    assert replay(app, cookie).status_code == 200
    out = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/records").status_code == 302
    stale = replay(app, cookie)
    assert stale.status_code == 302 and stale.headers["Location"].startswith("/login")


def test_password_change_ends_the_other_sessions(app):
    phone = signed_in(app, "zhang")
    desk = app.test_client()
    login(desk, "zhang")
    csrf = page_csrf(phone)
    wrong = phone.post("/password", data={"current": "wrong password", "new": NEW_PASSWORD, "again": NEW_PASSWORD,
                                          "csrf_token": csrf})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.get_data(as_text=True)
    done = phone.post("/password", data={"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD,
                                         "csrf_token": csrf})
    assert done.status_code == 302
    assert phone.get("/records").status_code == 200  # the device that changed it stays in
    assert desk.get("/records").status_code == 302
    assert login(app.test_client(), "zhang").status_code == 401
    assert login(app.test_client(), "zhang", NEW_PASSWORD).status_code == 302
    assert ("password-changed", "zhang") in audit_actions(app)


def test_disabling_a_user_ends_sessions_and_tokens(app):
    client = signed_in(app, "zhang")
    token = app.test_cli_runner().invoke(args=["create-token", "zhang"]).output.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/forms", headers=bearer).status_code == 200
    result = app.test_cli_runner().invoke(args=["disable-user", "zhang"])
    assert result.exit_code == 0, result.output
    assert client.get("/records").status_code == 302
    refused = client.get("/api/v1/forms", headers=bearer)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert login(app.test_client(), "zhang").status_code == 401  # the right password no longer works
    assert app.test_cli_runner().invoke(args=["enable-user", "zhang"]).exit_code == 0
    assert login(app.test_client(), "zhang").status_code == 302
    assert client.get("/api/v1/forms", headers=bearer).status_code == 401  # tokens stay revoked


def test_reset_password_ends_sessions(app):
    client = signed_in(app, "zhang")
    result = app.test_cli_runner().invoke(args=["reset-password", "zhang"], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert client.get("/records").status_code == 302
    assert login(app.test_client(), "zhang").status_code == 401
    assert login(app.test_client(), "zhang", NEW_PASSWORD).status_code == 302


def test_passwords_are_stored_as_argon2id(app):
    create_user(app, "zhang")
    with app.extensions["db_sessions"]() as db:
        stored = db.scalar(select(User.password_hash).where(User.username == "zhang"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_weak_passwords_are_refused_by_the_cli(app):
    result = app.test_cli_runner().invoke(args=["create-user", "li", "--role", "staff"], input="short\n")
    assert result.exit_code != 0 and "密码至少" in result.output


# -- login throttling -----------------------------------------------------------------------------------


def test_an_account_is_locked_after_repeated_failures(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", 3)
    create_user(app, "zhang")
    for _ in range(3):
        failed = login(client, "zhang", "wrong password!")
        assert failed.status_code == 401 and "用户名或密码不正确" in failed.get_data(as_text=True)
    locked = login(client, "zhang")  # the right password, too late
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.get_data(as_text=True)
    assert client.get("/records").status_code == 302
    actions = audit_actions(app)
    assert actions.count(("login-failed", "zhang")) == 3 and ("login-throttled", "zhang") in actions
    create_user(app, "li")
    assert login(app.test_client(), "li").status_code == 302  # other accounts are not affected
    assert ("login", "li") in audit_actions(app)


def test_an_address_is_throttled_across_accounts(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", 4)
    create_user(app, "zhang")
    for n in range(4):
        assert login(client, f"guess{n}", "wrong password!").status_code == 401
    response = login(client, "zhang")
    assert response.status_code == 429 and "登录失败次数过多" in response.get_data(as_text=True)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert login(elsewhere, "zhang").status_code == 302


# -- redirects, sizes, errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example",
                                    "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)",
                                    "https:/evil.example", " //evil.example"])
def test_login_never_redirects_off_site(app, client, target):
    create_user(app, "zhang")
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    response = client.post("/login", data={"username": "zhang", "password": PASSWORD, "next": target,
                                           "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    location = response.headers["Location"]
    # Home, or a path of this site that a browser cannot read as another host (Werkzeug quotes "\\" as %5C).
    assert location == "/" or (location.startswith("/") and not location.startswith("//")
                               and not re.search(r"[\\\s]", location) and not urlsplit(location).netloc), location
    if "://" in target:
        assert location == "/"


def test_oversized_posts_are_refused_in_chinese(app, monkeypatch):
    client = signed_in(app, "zhang")
    csrf = page_csrf(client)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    big = "字" * 40_000
    for url in ("/login", "/forms/patrol", "/photos"):
        response = client.post(url, data={"csrf_token": csrf, "note": big})
        assert response.status_code == 413, url
        shown = response.get_json()["error"] if url == "/photos" else response.get_data(as_text=True)  # upload script
        assert "文件太大" in shown, url
    assert server_config.DEFAULTS["MAX_CONTENT_LENGTH"] == 24 * 1024 * 1024


def test_a_long_register_posted_by_a_browser_is_not_too_large(app):
    """The page posts multipart form data: every register cell is a part, and a register may have 200 rows."""
    client = signed_in(app, "zhang")
    form = app.extensions["catalogue"].forms["visitor-register"]
    values = valid_values(form)
    values["visits"] = values["visits"] * 200
    _html, csrf, uid = new_form(client, form.id)
    data = MultiDict([*web_data(values), ("csrf_token", csrf), ("submission_id", uid),
                      ("__file__visits-0-photo", (io.BytesIO(b""), ""))])  # an empty file input, as browsers send
    assert len(data) > 1000
    response = client.post(f"/forms/{form.id}", data=data)
    assert response.status_code == 303, response.status_code


@pytest.fixture(scope="module")
def fault_app(tmp_path_factory):
    """An app of its own with a view that fails (routes cannot be added to an app that served requests)."""
    instance = tmp_path_factory.mktemp("security-fresh")
    app = make_app(f"sqlite:///{instance / 'fresh.sqlite3'}", instance)

    @app.get("/boom")
    @requires("staff")
    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    yield app
    app.extensions["db_engine"].dispose()


def test_a_failing_view_answers_the_chinese_500_page(fault_app):
    client = signed_in(fault_app, "zhang")
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "服务器出错" in body and "Traceback" not in body and "secret internal detail" not in body


def test_a_database_outage_answers_the_chinese_503_page(app, monkeypatch):
    client = signed_in(app, "zhang")
    submit_patrol(app, client)
    token = app.test_cli_runner().invoke(args=["create-token", "zhang"]).output.strip()

    def down(*_args, **_kwargs):
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("could not connect to server"))

    monkeypatch.setattr("formserver.records.review.filtered", down)
    monkeypatch.setattr("formserver.api.views.filtered", down)
    response = client.get("/records")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "数据库暂时不可用" in body and "could not connect" not in body and "SELECT" not in body
    api = client.get("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 503 and api.is_json and "could not connect" not in api.get_data(as_text=True)


def test_the_whole_database_gone_still_answers_503(app, monkeypatch):
    client = signed_in(app, "zhang")

    def down(*_args, **_kwargs):
        raise sqlalchemy.exc.OperationalError(None, None, Exception("could not connect to server"))

    engine = app.extensions["db_engine"]
    engine.dispose()  # no pooled connection left: every request must connect, and cannot
    monkeypatch.setattr(engine, "raw_connection", down)
    response = client.get("/records")
    assert response.status_code == 503
    assert "数据库暂时不可用" in response.get_data(as_text=True)
