"""Who may open what. The URL map is walked, so a route added later is covered without editing this file:
every view declares its rule, anonymous visitors are sent to the login page (or refused), staff cannot
use supervisors' actions, and nobody sees a record they may not see: not a 403 that confirms it exists,
but the same 404 as a record that does not exist, with none of its content in the answer."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from flask import Flask

from formserver.accounts.access import PUBLIC, TOKEN, requires
from formserver.db.models import ROLE_RANK
from tests.server_support import create_user, csrf_of, form_post, login, make_app, new_form, patrol_values

# The web app's manifest (fetched by the browser without cookies), service worker and offline page hold
# nothing of anyone's: the worker is a script listing the static files.
PUBLIC_ENDPOINTS = {"auth.login", "health", "static", "pwa.manifest", "pwa.service_worker", "pwa.offline"}
SECRET = "甲的机密备注:B1 配电房门锁损坏"
UID = str(uuid.uuid4())
PATH_ARGS = {"form_id": "patrol", "uid": UID, "path": "index.html", "filename": "app.css", "path_id": "new-staff",
             "regulation_id": "KF-01", "username": "nobody", "case_id": "1", "handover_id": "1",
             "penalty_id": "1", "entry_id": "1", "checkpoint_id": "f1-desk"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def routes(app: Flask):
    """(rule, method, url with sample arguments) for every route and method of the app."""
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: PATH_ARGS[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, url


def undeclared(app: Flask) -> list[str]:
    """Views that declare no access rule (the gate refuses them to everyone)."""
    allowed = {PUBLIC, TOKEN, *ROLE_RANK}
    return sorted(endpoint for endpoint, view in app.view_functions.items()
                  if endpoint != "static" and getattr(view, "required_role", None) not in allowed)


def signed_in(app: Flask, username: str, role: str = "staff", team: str = "desk"):
    create_user(app, username, role=role, team=team, display_name=username.upper())
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def token_for(app: Flask, username: str) -> str:
    result = app.test_cli_runner().invoke(args=["create-token", username])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def page_csrf(client) -> str:
    return csrf_of(client.get("/password").get_data(as_text=True))


# -- the URL map ------------------------------------------------------------------------------------


def test_every_view_declares_an_access_rule(app):
    assert undeclared(app) == []
    roles = {endpoint: getattr(view, "required_role", None) for endpoint, view in app.view_functions.items()}
    assert {e for e, r in roles.items() if r == PUBLIC} | {"static"} == PUBLIC_ENDPOINTS
    token_views = {e for e, r in roles.items() if r == TOKEN}
    api_rules = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert token_views == api_rules and token_views


def test_anonymous_visitors_are_sent_to_login_or_refused(app, client):
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    checked = 0
    for rule, method, url in routes(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        if rule.rule.startswith("/api/"):
            response = client.open(url, method=method)
            assert response.status_code == 401, (method, url)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.is_json
        elif method == "GET":
            response = client.get(url)
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), url
        else:  # with a valid CSRF token, so that it is the login gate that refuses
            response = client.open(url, method=method, data={"csrf_token": csrf}, headers={"X-CSRFToken": csrf})
            assert response.status_code == 401, (method, url, response.status_code)
            assert "需要登录" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 20


def test_public_pages_answer_without_login(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    with client.get("/static/app.css") as static:  # a file response: close it
        assert static.status_code == 200


def test_login_redirect_comes_back_to_the_page(app, client):
    response = client.get("/records?form=patrol")
    assert response.headers["Location"] == "/login?next=/records?form%3Dpatrol"
    create_user(app, "zhang")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/records?form=patrol"' in page
    done = client.post("/login", data={"username": "zhang", "password": "correct horse battery",
                                       "next": "/records?form=patrol", "csrf_token": csrf_of(page)})
    assert done.headers["Location"] == "/records?form=patrol"


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory):
    """An app of its own with a route added that declares no access rule (as a forgotten one would)."""
    instance = tmp_path_factory.mktemp("access-fresh")
    app = make_app(f"sqlite:///{instance / 'fresh.sqlite3'}", instance)

    @app.get("/forgotten")
    def forgotten():
        return "内部数据"

    @app.get("/declared")
    @requires("manager")
    def declared():
        return "经理页面"

    yield app
    app.extensions["db_engine"].dispose()


def test_a_route_without_a_rule_is_refused_to_everyone(fresh_app):
    assert undeclared(fresh_app) == ["forgotten"]  # the URL-map check above would fail on it
    anonymous = fresh_app.test_client().get("/forgotten")
    assert anonymous.status_code == 403 and "内部数据" not in anonymous.get_data(as_text=True)
    admin = signed_in(fresh_app, "root", role="admin")
    response = admin.get("/forgotten")
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True) and "内部数据" not in response.get_data(as_text=True)
    assert admin.get("/declared").status_code == 200
    staff = signed_in(fresh_app, "li")
    assert staff.get("/declared").status_code == 403


# -- roles and records --------------------------------------------------------------------------------


@pytest.fixture
def alice_record(app):
    """Staff member alice (team desk) with a patrol carrying a secret note and a photo, and her token."""
    alice = signed_in(app, "alice")
    csrf = page_csrf(alice)
    _html, form_csrf, uid = new_form(alice, "patrol")
    upload = alice.post("/photos", data={"file": (io.BytesIO(PNG), "p.png", "image/png"), "submission_id": uid,
                                         "item": "cctv_photos"}, headers={"X-CSRFToken": csrf})
    assert upload.status_code == 201, upload.get_data(as_text=True)
    photo = upload.json["id"]
    data = form_post(patrol_values(app, cctv="fault", cctv_note=SECRET), form_csrf, uid)
    data["cctv_photos"] = photo
    response = alice.post("/forms/patrol", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert SECRET in alice.get(f"/records/{uid}").get_data(as_text=True)
    return {"client": alice, "uid": uid, "photo": photo}


def assert_hidden(response, status: int = 404) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, (response.request.path, response.status_code)
    assert SECRET not in body and "B1 配电房" not in body
    assert "ALICE" not in body and '"alice"' not in body  # her display name and username


def outsider_requests(client, uid: str, photo: str):
    csrf = page_csrf(client)
    yield client.get(f"/records/{uid}")
    yield client.get(f"/records/{uid}?rev=1")
    yield client.get(f"/records/{uid}.pdf")
    yield client.get(f"/records/{uid}/correct")
    yield client.post(f"/records/{uid}/correct", data={"csrf_token": csrf, "base_revision": "1", "reason": "改",
                                                       **patrol_values(client.application)})
    yield client.get(f"/photos/{photo}")


def test_staff_cannot_open_another_staff_members_record(app, alice_record):
    uid, photo = alice_record["uid"], alice_record["photo"]
    bob = signed_in(app, "bob")  # same team, still not his record
    for response in outsider_requests(bob, uid, photo):
        assert_hidden(response)
    assert uid not in bob.get("/records").get_data(as_text=True)
    assert uid not in bob.get("/").get_data(as_text=True)
    token = token_for(app, "bob")
    api = bob.get(f"/api/v1/submissions/{uid}", headers={"Authorization": f"Bearer {token}"})
    assert_hidden(api)
    listed = bob.get("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.json["submissions"] == []
    # Nothing changed: alice's record still has one revision.
    assert "共 1 版" in alice_record["client"].get(f"/records/{uid}").get_data(as_text=True)


def test_a_missing_record_answers_exactly_like_a_hidden_one(app, alice_record):
    bob = signed_in(app, "bob")
    hidden = bob.get(f"/records/{alice_record['uid']}")
    missing = bob.get(f"/records/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404
    # The pages' CSRF tokens carry the second they were made: two requests may straddle one.
    def page(response) -> str:
        return re.sub(r'(name="csrf-token" content=")[^"]+', r"\1…", response.get_data(as_text=True))
    assert page(hidden) == page(missing).replace(missing.request.path, hidden.request.path)


def test_staff_are_refused_supervisor_actions(app, alice_record):
    alice, uid = alice_record["client"], alice_record["uid"]
    csrf = page_csrf(alice)
    for action in ("delete", "restore"):
        response = alice.post(f"/records/{uid}/{action}", data={"csrf_token": csrf, "reason": "试试"})
        assert response.status_code == 403, action
        assert "没有权限" in response.get_data(as_text=True)
    for export in ("csv", "xlsx"):
        assert alice.get(f"/records/export.{export}").status_code == 403
    assert "已删除" not in alice.get(f"/records/{uid}").get_data(as_text=True)


def test_supervisors_see_their_team_only(app, alice_record):
    uid, photo = alice_record["uid"], alice_record["photo"]
    other = signed_in(app, "zhou", role="supervisor", team="security")
    for response in outsider_requests(other, uid, photo):
        assert_hidden(response)
    csrf = page_csrf(other)
    assert_hidden(other.post(f"/records/{uid}/delete", data={"csrf_token": csrf, "reason": "越权"}))
    assert uid not in other.get("/records").get_data(as_text=True)
    export = other.get("/records/export.csv?form=patrol")
    assert export.status_code == 200 and SECRET not in export.get_data(as_text=True)
    assert uid not in export.get_data(as_text=True)

    own = signed_in(app, "wang", role="supervisor", team="desk")
    assert SECRET in own.get(f"/records/{uid}").get_data(as_text=True)
    assert own.get(f"/photos/{photo}").data == PNG
    assert uid in own.get("/records").get_data(as_text=True)
    assert SECRET in own.get("/records/export.csv?form=patrol").get_data(as_text=True)
    deleted = own.post(f"/records/{uid}/delete", data={"csrf_token": page_csrf(own), "reason": "重复填写"})
    assert deleted.status_code == 303
    assert "已删除" in own.get(f"/records/{uid}").get_data(as_text=True)


def test_managers_see_every_team(app, alice_record):
    uid, photo = alice_record["uid"], alice_record["photo"]
    manager = signed_in(app, "liu", role="manager", team="office")
    assert SECRET in manager.get(f"/records/{uid}").get_data(as_text=True)
    assert manager.get(f"/photos/{photo}").data == PNG
    assert uid in manager.get("/records").get_data(as_text=True)
    pdf = manager.get(f"/records/{uid}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    token = token_for(app, "liu")
    api = manager.get(f"/api/v1/submissions/{uid}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json["values"]["cctv_note"] == SECRET


def test_drafts_are_private(app):
    alice = signed_in(app, "alice")
    _html, csrf, uid = new_form(alice, "patrol")
    saved = alice.put(f"/drafts/{uid}", json={"form": "patrol", "fields": [["cctv_note", SECRET]]},
                      headers={"X-CSRFToken": csrf})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    bob = signed_in(app, "bob")
    assert_hidden(bob.get(f"/forms/patrol?draft={uid}"))
    overwrite = bob.put(f"/drafts/{uid}", json={"form": "patrol", "fields": [["cctv_note", "改掉"]]},
                        headers={"X-CSRFToken": page_csrf(bob)})
    assert_hidden(overwrite)
    bob.post(f"/drafts/{uid}/discard", data={"csrf_token": page_csrf(bob)})
    assert SECRET in alice.get(f"/forms/patrol?draft={uid}").get_data(as_text=True)
